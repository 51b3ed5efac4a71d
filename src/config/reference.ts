// The configuration reference and the editor JSON schema, both generated from the zod schema so they
// cannot drift from what the validator accepts. `npm run docs` writes them into README.md and schemas/.
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
  if (node.enum) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  return Array.isArray(node.type) ? node.type.join(' \\| ') : (node.type ?? 'value');
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

function rows(node: JsonSchemaNode, path: string, required: boolean, out: string[]): void {
  const leafObject = node.type === 'object' && node.properties;
  const defaultShown = leafObject ? '' : show(node.default, isDuration(node));
  const requirement = required && node.default === undefined ? 'required' : defaultShown || 'optional';
  const example = leafObject ? '' : show(node.examples?.[0], isDuration(node));
  const description = (node.description ?? '').replace(/\|/g, '\\|');
  if (path) out.push(`| \`${path}\` | ${typeOf(node)} | ${requirement} | ${description} | ${example} |`);
  const items = objectForms(node.items);
  const children = node.properties ?? items?.properties;
  const requiredChildren = new Set(node.properties ? node.required : items?.required);
  const prefix = node.properties ? path : `${path}[]`;
  for (const [key, child] of Object.entries(children ?? {})) {
    rows(child, prefix ? `${prefix}.${key}` : key, requiredChildren.has(key), out);
  }
}

/** A Markdown table of every pipeline field: type, default (or required), description, example. */
export function configReference(): string {
  const out = ['| field | type | default | description | example |', '| --- | --- | --- | --- | --- |'];
  rows(pipelineJsonSchema(), '', true, out);
  return out.join('\n');
}
