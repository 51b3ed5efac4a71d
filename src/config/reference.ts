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

function rows(node: JsonSchemaNode, path: string, required: boolean, out: string[]): void {
  const leafObject = node.type === 'object' && node.properties;
  const defaultShown = leafObject ? '' : show(node.default, isDuration(node));
  const requirement = required && node.default === undefined ? 'required' : defaultShown || 'optional';
  const example = leafObject ? '' : show(node.examples?.[0], isDuration(node));
  const description = (node.description ?? '').replace(/\|/g, '\\|');
  if (path) out.push(`| \`${path}\` | ${typeOf(node)} | ${requirement} | ${description} | ${example} |`);
  const children = node.properties ?? (node.items?.type === 'object' ? node.items.properties : undefined);
  const requiredChildren = new Set(node.properties ? node.required : node.items?.required);
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
