// `sluice migrate`: brings the pipeline's ClickHouse database up to date without running it: the
// database, one table per window, the columns an older Sluice's tables lack, and the migrations
// folder's .sql files not applied yet. Idempotent; the same happens at every start-up.
import type { Command } from 'commander';
import { resolveEndpoints } from '../config/endpoints.js';
import { loadPipelineFile } from '../config/load.js';
import { ClickHouseSchema, createClickHouseClient } from '../sinks/clickhouse-schema.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('create or update the ClickHouse tables and apply pending migrations, then exit')
    .requiredOption('-c, --config <file>', 'pipeline file (YAML or JSON)')
    .action(async (opts: { config: string }) => {
      const pipeline = await loadPipelineFile(opts.config);
      const { clickhouse } = await resolveEndpoints(pipeline);
      if (!clickhouse) {
        console.log('the ClickHouse sink is disabled (sinks.clickhouse.enabled: false): nothing to migrate');
        return;
      }
      const client = createClickHouseClient(clickhouse);
      try {
        const schema = new ClickHouseSchema(client, clickhouse, pipeline.source.keyedBy);
        await schema.check();
        const report = await schema.migrate(pipeline.windows, pipeline.sinks.clickhouse.migrations);
        console.log(
          report.server +
            (clickhouse.cluster === undefined ? '' : `; tables ON CLUSTER ${clickhouse.cluster}`),
        );
        for (const moved of report.movedTables) console.log(`moved the rows of ${moved}`);
        for (const table of report.createdTables) console.log(`created table ${table}`);
        for (const column of report.addedColumns) console.log(`added ${column}`);
        for (const view of report.createdViews) console.log(`created view ${view}`);
        for (const file of report.appliedFiles) console.log(`applied ${file}`);
        const changes =
          report.movedTables.length +
          report.createdTables.length +
          report.addedColumns.length +
          report.createdViews.length +
          report.appliedFiles.length;
        console.log(
          changes === 0
            ? `${clickhouse.database} at ${clickhouse.url} is up to date`
            : `${clickhouse.database} at ${clickhouse.url}: ${changes} change(s)`,
        );
      } finally {
        await client.close();
      }
    });
}
