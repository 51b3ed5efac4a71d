// docs/configuration.md's reference and the editor schema are generated from the zod schema; this fails
// when someone changes the schema without `npm run docs`.
import { readFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { configReference, wrap } from '../../../src/config/reference.js';
import { editorSchema, REFERENCE_FILE, withReference } from '../../../scripts/render-docs.js';

describe('generated configuration docs', () => {
  it('lists every field with its type, default or requirement, and description', () => {
    const reference = configReference();
    expect(reference).toContain('- **`windows[].name`** (string, required): Name of the window definition;');
    expect(reference).toContain(
      '- **`windows[].type`** (`"tumbling"` | `"sliding"` | `"session"`, required): `"tumbling"`: Fixed,',
    );
    expect(reference).toContain('- **`time.maxOutOfOrderness`** (duration, default `5s`): How far behind');
    expect(reference).toContain(
      '- **`source.topic`** (string, default `"user-events"`): The topic to consume.',
    );
    expect(reference).toContain('Example: `"page_views"`.');
  });

  it('has one section per top-level key, each linked from the contents', () => {
    const reference = configReference();
    for (const key of ['name', 'source', 'windows', 'sinks', 'lateEvents', 'onStageError']) {
      expect(reference).toContain(`\n## \`${key}\`\n`);
      expect(reference).toContain(`- [\`${key}\`](#${key.toLowerCase()})`);
    }
    expect(reference).not.toMatch(/^## `source\.|^## `windows\[/m);
    // Fields sit under their own top-level key.
    const sinks = reference.slice(reference.indexOf('## `sinks`'), reference.indexOf('## `processing`'));
    expect(sinks).toContain('**`sinks.clickhouse.url`**');
    expect(sinks).not.toContain('**`source.topic`**');
  });

  it('keeps lines short and never breaks a code span', () => {
    expect(
      Math.max(
        ...configReference()
          .split('\n')
          .map((line) => line.length),
      ),
    ).toBeLessThanOrEqual(110);
    expect(wrap('a `b c` d', 4)).toEqual(['a', '`b c`', 'd']);
    expect(wrap('one two three', 7)).toEqual(['one two', 'three']);
  });

  it(`is current in ${REFERENCE_FILE} and schemas/pipeline.schema.json`, async () => {
    const page = readFileSync(REFERENCE_FILE, 'utf8');
    const options = await resolveConfig(REFERENCE_FILE);
    expect(page).toBe(await format(withReference(page), { ...options, filepath: REFERENCE_FILE }));
    const schema = readFileSync('schemas/pipeline.schema.json', 'utf8');
    expect(schema).toBe(await format(editorSchema(), { ...options, filepath: 'pipeline.schema.json' }));
  });
});
