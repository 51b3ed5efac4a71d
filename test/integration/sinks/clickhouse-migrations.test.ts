// `sluice migrate` against the real ClickHouse, as an operator runs it: the window tables and a
// migrations folder's files, each applied once (running it again changes nothing), an applied file
// that was edited refused by name, a new file applied alone; and the folder shipped in schemas/.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { queryRows, uniqueName } from '../support/fixtures.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';

function pipelineWith(database: string, migrations: string) {
  return {
    name: 'migrations',
    source: { brokers: [inject('kafkaBrokers')], topic: 'unused' },
    windows: [{ name: 'views', type: 'tumbling', size: '1m', groupBy: ['type'] }],
    sinks: { clickhouse: { url: inject('clickhouseUrl'), database, migrations } },
  };
}

describe('sluice migrate', () => {
  const services = useTestServices();

  it('applies each migration once, refuses an edited one by name, and applies a new one alone', async () => {
    const database = uniqueName('migrate');
    const folder = mkdtempSync(join(tmpdir(), 'sluice-migrations-'));
    writeFileSync(
      join(folder, '001_notes.sql'),
      '-- a table of our own\nCREATE TABLE `{database}`.notes (id UInt32, text String) ENGINE = MergeTree ORDER BY id;\n',
    );
    writeFileSync(
      join(folder, '002_seed.sql'),
      "INSERT INTO `{database}`.notes VALUES (1, 'first');\nALTER TABLE `{database}`.notes ADD COLUMN tag String DEFAULT 'none';\n",
    );
    const config = writeConfig(pipelineWith(database, folder));
    const migrate = () => runSluice(['migrate', '--config', config]);
    const notes = () =>
      queryRows<{ id: number; text: string; tag: string }>(
        services.clickhouse,
        `SELECT id, text, tag FROM ${database}.notes ORDER BY id`,
      );

    const first = await migrate();
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain(`created table ${database}.views`);
    expect(first.output).toContain('applied 001_notes.sql');
    expect(first.output).toContain('applied 002_seed.sql');
    expect(await notes()).toEqual([{ id: 1, text: 'first', tag: 'none' }]);

    const again = await migrate();
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain(`${database} at ${inject('clickhouseUrl')} is up to date`);
    expect(await notes()).toHaveLength(1);

    writeFileSync(join(folder, '002_seed.sql'), "INSERT INTO `{database}`.notes VALUES (2, 'edited');\n");
    const edited = await migrate();
    expect(edited.code).toBe(1);
    expect(edited.output).toContain('migration 002_seed.sql changed after it was applied');
    expect(await notes()).toHaveLength(1);

    writeFileSync(
      join(folder, '002_seed.sql'),
      "INSERT INTO `{database}`.notes VALUES (1, 'first');\nALTER TABLE `{database}`.notes ADD COLUMN tag String DEFAULT 'none';\n",
    );
    writeFileSync(
      join(folder, '003_more.sql'),
      "INSERT INTO `{database}`.notes (id, text) VALUES (3, 'third');\n",
    );
    const added = await migrate();
    expect(added.code, added.output).toBe(0);
    expect(added.output).toContain('applied 003_more.sql');
    expect(added.output).not.toContain('applied 001_notes.sql');
    expect(added.output).not.toContain('applied 002_seed.sql');
    expect((await notes()).map((n) => n.id)).toEqual([1, 3]);
  });

  it('applies the migrations shipped in schemas/clickhouse', async () => {
    const database = uniqueName('shipped');
    const config = writeConfig(pipelineWith(database, resolve('schemas/clickhouse')));
    const result = await runSluice(['migrate', '--config', config]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('applied 001_raw_events.sql');
    // It says which server it found and what new tables get there.
    expect(result.output).toMatch(
      /^ClickHouse \d+\.\d+[\d.]*: .*session bounds, .*group keys, retried inserts /m,
    );
    const columns = await queryRows<{ name: string }>(
      services.clickhouse,
      `SELECT name FROM system.columns WHERE database = '${database}' AND table = 'raw_events'`,
    );
    expect(columns.map((c) => c.name)).toContain('event_id');
  });
});
