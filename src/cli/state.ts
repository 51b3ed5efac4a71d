// `sluice reset` and `sluice state drop-window`: changes to a pipeline's state made while none of its
// members runs (runtime/state-maintenance.ts). Reset rewinds the group to the topic's start, a time, or
// given offsets, drops the window state the rewind invalidates and, with --delete-results, the result
// rows from that point on; a restart then recomputes. drop-window removes a deleted window's state.
import type { Command } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { resolveBrokers, resolveEndpoints } from '../config/endpoints.js';
import { loadPipelineFile } from '../config/load.js';
import { groupIdOf, pipelineTopicsOf } from '../config/pipeline-topics.js';
import type { Pipeline } from '../config/schema.js';
import { createLogger } from '../ops/logger.js';
import {
  dropWindowState,
  resetPipeline,
  type MaintainedPipeline,
  type ResetTarget,
} from '../runtime/state-maintenance.js';
import { createClickHouseClient } from '../sinks/clickhouse-schema.js';
import { deleteResults } from '../sinks/clickhouse-withdrawal.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';
import { defineWindow } from '../windows/window-definition.js';

interface ResetOptions {
  config: string;
  toEarliest?: boolean;
  toDatetime?: string;
  toOffsets?: string;
  deleteResults?: boolean;
}

function maintained(pipeline: Pipeline): MaintainedPipeline {
  return {
    name: pipeline.name,
    groupId: groupIdOf(pipeline),
    topics: pipelineTopicsOf(pipeline),
    windows: pipeline.windows.map((w) => defineWindow(w, pipeline.time, pipeline.source.keyedBy)),
  };
}

/** The one target the options name, or a ConfigError saying what was expected. */
export function resetTargetOf(opts: Omit<ResetOptions, 'config'>): ResetTarget {
  const given = [
    opts.toEarliest && '--to-earliest',
    opts.toDatetime && '--to-datetime',
    opts.toOffsets && '--to-offsets',
  ].filter((x): x is string => typeof x === 'string');
  if (given.length !== 1)
    throw new ConfigError([
      {
        path: '--to-earliest | --to-datetime | --to-offsets',
        expected: 'exactly one of --to-earliest, --to-datetime <ISO time>, --to-offsets <partition=offset,…>',
        found: given.length === 0 ? 'none' : given.join(' and '),
      },
    ]);
  if (opts.toEarliest) return { kind: 'earliest' };
  if (opts.toDatetime !== undefined) {
    const ms = Date.parse(opts.toDatetime);
    if (Number.isNaN(ms))
      throw new ConfigError([
        {
          path: '--to-datetime',
          expected: 'an ISO 8601 time such as 2026-11-30T08:00:00Z',
          found: opts.toDatetime,
        },
      ]);
    return { kind: 'datetime', ms };
  }
  const offsets = new Map<number, bigint>();
  for (const part of (opts.toOffsets ?? '').split(',')) {
    const match = /^\s*(\d+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!match)
      throw new ConfigError([
        {
          path: '--to-offsets',
          expected: 'partition=offset pairs separated by commas, e.g. 0=1200,3=0',
          found: part,
        },
      ]);
    offsets.set(Number(match[1]), BigInt(match[2]!));
  }
  if (opts.deleteResults)
    throw new ConfigError([
      {
        path: '--delete-results',
        expected: 'with --to-earliest or --to-datetime (rows are deleted by time; offsets name no time)',
        found: '--to-offsets',
      },
    ]);
  return { kind: 'offsets', offsets };
}

export function registerStateCommands(program: Command): void {
  program
    .command('reset')
    .description(
      'with no member running: rewind the pipeline to reprocess (the group to a point of the topic, the ' +
        'window state it invalidates dropped, optionally the result rows deleted), then exit',
    )
    .requiredOption('-c, --config <file>', 'pipeline file (YAML or JSON)')
    .option('--to-earliest', 'from the start of the source topic')
    .option('--to-datetime <time>', 'from the first record written at or after this ISO 8601 time')
    .option('--to-offsets <list>', 'these partitions from these offsets, e.g. 0=1200,3=0 (others unchanged)')
    .option('--delete-results', "delete the pipeline's ClickHouse rows of windows ending after that point")
    .action(async (opts: ResetOptions) => {
      const target = resetTargetOf(opts);
      const pipeline = await loadPipelineFile(opts.config);
      const endpoints = await resolveEndpoints(pipeline);
      await checkKafka(endpoints.brokers);
      const logger = createLogger('warn');
      const kafka = createKafka(endpoints.brokers, 'sluice-reset', logger);
      const reports = await resetPipeline(kafka, maintained(pipeline), target, logger);
      for (const r of reports)
        console.log(
          `partition ${r.partition}: offset ${r.from ?? 'none'} -> ${r.to}, ${r.windowsDropped} open window(s) dropped`,
        );
      console.log(
        `reset group ${groupIdOf(pipeline)} of pipeline ${pipeline.name} (${reports.length} partition(s))`,
      );
      if (!opts.deleteResults) return;
      if (!endpoints.clickhouse) {
        console.log('the ClickHouse sink is disabled: no result rows to delete');
        return;
      }
      const client = createClickHouseClient(endpoints.clickhouse);
      try {
        const deleted = await deleteResults(
          client,
          endpoints.clickhouse.database,
          pipeline.name,
          reports.map((r) => r.partition),
          target.kind === 'datetime' ? target.ms : undefined,
        );
        for (const [table, rows] of deleted)
          console.log(`deleted ${rows} row(s) from ${endpoints.clickhouse.database}.${table}`);
        if (deleted.size === 0) console.log('no result rows to delete');
      } finally {
        await client.close();
      }
    });

  const state = program.command('state').description("a pipeline's window state in its changelog topic");
  state
    .command('drop-window <name>')
    .description('with no member running: drop the state of a window removed from the pipeline, then exit')
    .requiredOption('-c, --config <file>', 'pipeline file (YAML or JSON)')
    .action(async (name: string, opts: { config: string }) => {
      const pipeline = await loadPipelineFile(opts.config);
      const brokers = await resolveBrokers(pipeline);
      await checkKafka(brokers);
      const logger = createLogger('warn');
      const kafka = createKafka(brokers, 'sluice-state', logger);
      const { dropped } = await dropWindowState(kafka, maintained(pipeline), name, logger);
      const windows = [...dropped.values()].reduce((a, b) => a + b, 0);
      console.log(
        dropped.size === 0
          ? `no state of window ${name} in ${pipelineTopicsOf(pipeline).changelog}: nothing to drop`
          : `dropped ${windows} open window(s) of ${name} from ${dropped.size} partition(s) of ${pipelineTopicsOf(pipeline).changelog}`,
      );
    });
}
