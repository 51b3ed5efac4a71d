// The schemas shipped for the example pipeline are what Sluice derives from it: the Avro result schemas
// in schemas/avro/results and the ClickHouse DDL in schemas/aggregates. Regenerate with
// `sluice schemas -c examples/user-events.yaml [--ddl]` when the example or the row layout changes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPipelineFile } from '../../../src/config/load.js';
import { rowsTableOf, windowTableDdl, windowViewDdl } from '../../../src/sinks/clickhouse-tables.js';
import { windowResultSchema } from '../../../src/sinks/result-avro.js';

describe('shipped schemas', () => {
  it('match the example pipeline', async () => {
    const pipeline = await loadPipelineFile('examples/user-events.yaml');
    const ddl = readFileSync('schemas/aggregates/user-events.sql', 'utf8');
    for (const window of pipeline.windows) {
      const database = pipeline.sinks.clickhouse.database;
      expect(ddl).toContain(windowTableDdl(database, window, rowsTableOf(window.name)));
      expect(ddl).toContain(windowViewDdl(database, window));
      const shipped: unknown = JSON.parse(readFileSync(`schemas/avro/results/${window.name}.avsc`, 'utf8'));
      expect(shipped).toEqual(windowResultSchema(window));
    }
  });
});
