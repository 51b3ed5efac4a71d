// The README's configuration reference and the editor schema are generated from the zod schema; this
// fails when someone changes the schema without `npm run docs`.
import { readFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { configReference } from '../../../src/config/reference.js';
import { editorSchema, withReference } from '../../../scripts/render-docs.js';

describe('generated configuration docs', () => {
  it('lists every field with its default and description', () => {
    const reference = configReference();
    expect(reference).toContain('| `windows[].name` | string | required |');
    expect(reference).toContain(
      '| `windows[].type` | `"tumbling"` \\| `"sliding"` \\| `"session"` | required |',
    );
    expect(reference).toContain('| `time.maxOutOfOrderness` | duration | `5s` |');
    expect(reference).toContain('| `source.topic` | string | `"user-events"` | The topic to consume.');
  });

  it('is current in README.md and schemas/pipeline.schema.json', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const options = await resolveConfig('README.md');
    expect(readme).toBe(await format(withReference(readme), { ...options, filepath: 'README.md' }));
    const schema = readFileSync('schemas/pipeline.schema.json', 'utf8');
    expect(schema).toBe(await format(editorSchema(), { ...options, filepath: 'pipeline.schema.json' }));
  });
});
