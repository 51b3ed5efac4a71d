// The configuration reference and the editor JSON schema, both generated from the zod schema so they
// cannot drift from what the validator accepts. `npm run docs` writes them into docs/configuration.md and schemas/.
import { z } from 'zod';
import { formatDuration } from './duration.js';
import { pipelineSchema } from './schema.js';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  const?: unknown;
  enum?: unknown[];
  required?: string[];
}

/** The pipeline's JSON schema (draft 2020-12), describing what a user may write. */
export function pipelineJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(pipelineSchema, { io: 'input', unrepresentable: 'any' });
}

function isDuration(node: JsonSchemaNode): boolean {
  return (
    Array.isArray(node.type) &&
    node.type.length === 2 &&
    node.type.includes('string') &&
    node.type.includes('number')
  );
}

function typeOf(node: JsonSchemaNode): string {
  if (isDuration(node)) return 'duration';
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  return Array.isArray(node.type) ? node.type.join(' | ') : (node.type ?? 'value');
}

function show(value: unknown, duration: boolean): string {
  if (value === undefined) return '';
  if (duration && typeof value === 'number') return `\`${formatDuration(value)}\``;
  if (duration && typeof value === 'string') return `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

/**
 * One object out of a union of object forms (window types, stage kinds): every field of any form, the
 * discriminating constants gathered into one list, each form's description of its constant kept.
 */
function mergeForms(forms: readonly JsonSchemaNode[]): JsonSchemaNode {
  const properties: Record<string, JsonSchemaNode> = {};
  for (const form of forms) {
    for (const [key, child] of Object.entries(form.properties ?? {})) {
      const seen = properties[key];
      if (!seen) properties[key] = { ...child };
      else if (seen.const !== undefined && child.const !== undefined) {
        properties[key] = {
          ...seen,
          const: undefined,
          enum: [seen.const, child.const],
          description: `\`${JSON.stringify(seen.const)}\`: ${seen.description ?? ''} \`${JSON.stringify(child.const)}\`: ${child.description ?? ''}`,
        };
      } else if (seen.enum && child.const !== undefined) {
        seen.enum = [...seen.enum, child.const];
        seen.description = `${seen.description ?? ''} \`${JSON.stringify(child.const)}\`: ${child.description ?? ''}`;
      }
    }
  }
  const required = (forms[0]?.required ?? []).filter((key) =>
    forms.every((f) => f.required?.includes(key) ?? false),
  );
  return { type: 'object', properties, required };
}

function objectForms(node: JsonSchemaNode | undefined): JsonSchemaNode | undefined {
  if (!node) return undefined;
  if (node.type === 'object') return node;
  const forms = node.anyOf?.filter((form) => form.type === 'object');
  return forms && forms.length > 0 ? mergeForms(forms) : undefined;
}

/** One field: its dotted path, type, default or requirement, description and example. */
interface Field {
  path: string;
  type: string;
  requirement: string;
  description: string;
  example: string;
}

function fields(node: JsonSchemaNode, path: string, required: boolean, out: Field[]): void {
  const leafObject = node.type === 'object' && node.properties;
  const defaultShown = leafObject ? '' : show(node.default, isDuration(node));
  const requirement =
    required && node.default === undefined
      ? 'required'
      : defaultShown
        ? `default ${defaultShown}`
        : 'optional';
  const exampleShown = leafObject ? '' : show(node.examples?.[0], isDuration(node));
  // An example that only repeats the default says nothing more.
  const example = exampleShown === defaultShown ? '' : exampleShown;
  const description = (node.description ?? '').trim();
  if (path) out.push({ path, type: typeOf(node), requirement, description, example });
  const items = objectForms(node.items);
  const children = node.properties ?? items?.properties;
  const requiredChildren = new Set(node.properties ? node.required : items?.required);
  const prefix = node.properties ? path : `${path}[]`;
  for (const [key, child] of Object.entries(children ?? {})) {
    fields(child, prefix ? `${prefix}.${key}` : key, requiredChildren.has(key), out);
  }
}

/** Breaks prose into lines of at most `width` characters, never inside a `code span`. */
export function wrap(text: string, width: number): string[] {
  const words: string[] = [];
  let open = false;
  for (const piece of text.split(' ')) {
    if (open) words[words.length - 1] += ` ${piece}`;
    else words.push(piece);
    if ((piece.match(/`/g)?.length ?? 0) % 2 === 1) open = !open;
  }
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function item(field: Field): string {
  const text = [
    `**\`${field.path}\`** (${field.type}, ${field.requirement})${field.description ? ':' : ''}`,
    field.description,
    field.example ? `Example: ${field.example}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return wrap(text, 98)
    .map((line, i) => (i === 0 ? `- ${line}` : `  ${line}`))
    .join('\n');
}

/**
 * The reference of every pipeline field, one section per top-level key (a list of its fields: type,
 * default or required, description, example), after a list of links to the sections.
 */
export function configReference(): string {
  const all: Field[] = [];
  fields(pipelineJsonSchema(), '', true, all);
  const topLevel = all.filter((field) => !/[.[]/.test(field.path));
  const contents = topLevel.map((field) => `- [\`${field.path}\`](#${field.path.toLowerCase()})`);
  const sections = topLevel.map((top) => {
    const own = all.filter(
      (f) => f.path === top.path || f.path.startsWith(`${top.path}.`) || f.path.startsWith(`${top.path}[]`),
    );
    return [`## \`${top.path}\``, own.map(item).join('\n')].join('\n\n');
  });
  return [contents.join('\n'), ...sections].join('\n\n');
}
