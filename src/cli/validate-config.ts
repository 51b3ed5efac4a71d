// `sluice validate-config <file>`: checks a pipeline definition without connecting to anything (what a
// CI step or a pre-deploy hook runs). Prints what the pipeline will do, or every bad field with what
// was expected and what was found, and exits non-zero.
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatDuration as d } from '../config/duration.js';
import { loadPipelineFile } from '../config/load.js';
import type { Pipeline } from '../config/schema.js';
import { groupIdOf, topicsToCreate } from '../config/pipeline-topics.js';
import { ConfigError } from '../config/config-error.js';
import { declaredFields, undeclaredFields } from '../stages/declared-fields.js';
import { DEFAULT_READER_SCHEMA } from '../stages/record-decoders.js';

export function registerValidateConfigCommand(program: Command): void {
  program
    .command('validate-config')
    .description('check a pipeline definition (YAML or JSON) offline and summarise it')
    .argument('<file>', 'pipeline definition')
    .option('--resolved', 'print the whole pipeline with every default filled in, as YAML')
    .action(async (file: string, opts: { resolved?: boolean }) => {
      const pipeline = await loadPipelineFile(file);
      const { issues, unsure } = undeclaredFields(
        pipeline,
        declaredFields(pipeline.parse, dirname(resolve(file)), DEFAULT_READER_SCHEMA),
      );
      if (issues.length > 0) throw new ConfigError(issues, file);
      for (const field of unsure)
        console.warn(`warning: field '${field}' is not in the declared events: a stage must add it`);
      if (opts.resolved) {
        // Functions (TypeScript-only stages) cannot come from a file; durations print as milliseconds.
        console.log(stringify(pipeline));
        return;
      }
      console.log(`${file}: valid\n${summary(pipeline)}`);
    });
}

function windowLine(w: Pipeline['windows'][number]): string {
  const shape =
    w.type === 'tumbling'
      ? `tumbling ${d(w.size)}`
      : w.type === 'sliding'
        ? `sliding ${d(w.size)} every ${d(w.advance)}`
        : `session, gap ${d(w.gap)}`;
  const aggregations = w.aggregations.map((a) => ('field' in a && a.field ? `${a.fn}(${a.field})` : a.fn));
  return `${w.name}: ${shape} by [${w.groupBy.join(', ')}] → ${aggregations.join(', ')}; emit ${w.emit.mode}${w.emit.mode === 'update' ? ` every ${d(w.emit.every)}` : ''}`;
}

export function summary(pipeline: Pipeline): string {
  const sinks = [
    pipeline.sinks.clickhouse.enabled
      ? `ClickHouse database ${pipeline.sinks.clickhouse.database}`
      : undefined,
    pipeline.sinks.kafka
      ? `Kafka topic ${pipeline.sinks.kafka.topic} (${pipeline.sinks.kafka.format})`
      : undefined,
  ].filter(Boolean);
  const lines = [
    `pipeline   ${pipeline.name} (${pipeline.processing.guarantee}, commit every ${d(pipeline.processing.commitInterval)})`,
    `source     ${pipeline.source.topic} as group ${groupIdOf(pipeline)}`,
    `time       ${pipeline.time.field}, ${d(pipeline.time.maxOutOfOrderness)} out of order, ${d(pipeline.time.grace)} grace`,
    `stages     ${pipeline.stages.map((s) => s.name).join(' → ') || '(none)'}`,
    ...pipeline.windows.map((w, i) => `${i === 0 ? 'windows    ' : '           '}${windowLine(w)}`),
    `sinks      ${sinks.join('; ')}`,
    `topics     ${topicsToCreate(pipeline)
      .map((t) => t.topic)
      .join(', ')}`,
  ];
  return lines.join('\n');
}
