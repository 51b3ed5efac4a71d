// `sluice schemas`: prints the Avro schema of each window's result rows, the schema the Kafka sink
// writes with `format: avro`, so that consumers of the output topic can decode it; with --ddl, the
// ClickHouse CREATE TABLE of each window's result table instead (what Sluice runs at start-up).
import type { Command } from 'commander';
import { loadPipelineFile } from '../config/load.js';
import { windowResultSchema } from '../sinks/result-avro.js';
import type { Pipeline, WindowConfig } from '../config/schema.js';
import { distributedTableDdl } from '../sinks/clickhouse-cluster.js';
import { rowsTableOf, windowShardingKey, windowTableDdl, windowViewDdl } from '../sinks/clickhouse-tables.js';

/**
 * The DDL Sluice runs for a window (18.16's types; a newer server's may be better): its rows table and
 * its view; on a cluster the replicated storage table, the Distributed table over it and the view.
 */
function windowDdl(pipeline: Pipeline, window: WindowConfig): string {
  const { database, cluster } = pipeline.sinks.clickhouse;
  const rows = rowsTableOf(window.name);
  return [
    windowTableDdl(database, window, rows, undefined, cluster),
    ...(cluster === undefined
      ? []
      : [distributedTableDdl(database, rows, cluster, windowShardingKey(window))]),
    windowViewDdl(database, window, window.name, cluster),
  ]
    .map((statement) => `${statement};\n`)
    .join('');
}

export function registerSchemasCommand(program: Command): void {
  program
    .command('schemas')
    .description("print the Avro schema of each window's result rows (one JSON document per line)")
    .requiredOption('-c, --config <file>', 'pipeline file (YAML or JSON)')
    .option('-w, --window <name>', 'only this window')
    .option(
      '--ddl',
      'print the ClickHouse DDL of each window instead: its rows table (<window>_rows) and the view named after it (with sinks.clickhouse.cluster: <window>_rows_local, the Distributed <window>_rows and the view, ON CLUSTER)',
    )
    .action(async (opts: { config: string; window?: string; ddl?: boolean }) => {
      const pipeline = await loadPipelineFile(opts.config);
      const windows = pipeline.windows.filter((w) => opts.window === undefined || w.name === opts.window);
      if (windows.length === 0)
        program.error(
          `sluice: no window named ${opts.window}; the pipeline has ${pipeline.windows.map((w) => w.name).join(', ')}`,
        );
      for (const window of windows)
        console.log(opts.ddl ? windowDdl(pipeline, window) : JSON.stringify(windowResultSchema(window)));
    });
}
