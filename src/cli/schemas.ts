// `sluice schemas`: prints the Avro schema of each window's result rows, the schema the Kafka sink
// writes with `format: avro`, so that consumers of the output topic can decode it; with --ddl, the
// ClickHouse CREATE TABLE of each window's result table instead (what Sluice runs at start-up).
import type { Command } from 'commander';
import { loadPipelineFile } from '../config/load.js';
import { windowResultSchema } from '../sinks/result-avro.js';
import { rowsTableOf, windowTableDdl, windowViewDdl } from '../sinks/clickhouse-tables.js';

export function registerSchemasCommand(program: Command): void {
  program
    .command('schemas')
    .description("print the Avro schema of each window's result rows (one JSON document per line)")
    .requiredOption('-c, --config <file>', 'pipeline file (YAML or JSON)')
    .option('-w, --window <name>', 'only this window')
    .option(
      '--ddl',
      'print the ClickHouse DDL of each window instead: its rows table (<window>_rows) and the view named after it',
    )
    .action(async (opts: { config: string; window?: string; ddl?: boolean }) => {
      const pipeline = await loadPipelineFile(opts.config);
      const windows = pipeline.windows.filter((w) => opts.window === undefined || w.name === opts.window);
      if (windows.length === 0)
        program.error(
          `sluice: no window named ${opts.window}; the pipeline has ${pipeline.windows.map((w) => w.name).join(', ')}`,
        );
      for (const window of windows)
        console.log(
          opts.ddl
            ? `${windowTableDdl(pipeline.sinks.clickhouse.database, window, rowsTableOf(window.name))};\n` +
                `${windowViewDdl(pipeline.sinks.clickhouse.database, window)};\n`
            : JSON.stringify(windowResultSchema(window)),
        );
    });
}
