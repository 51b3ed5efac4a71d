// `sluice reset` and `sluice state drop-window`: changes to a pipeline's state made while none of its
// members runs (runtime/state-maintenance.ts). Reset rewinds the group to the topic's start, a time, or
// given offsets, drops the window state the rewind invalidates and, with --delete-results, the result
// rows from that point on; a restart then recomputes. drop-window removes a deleted window's state.
import type { Command } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { SluiceError } from '../errors.js';
import { resolveBrokers, resolveEndpoints } from '../config/endpoints.js';
import { loadPipelineFile } from '../config/load.js';
import { groupIdOf, pipelineTopicsOf, rekeyedNamesOf } from '../config/pipeline-topics.js';
import { rekeyPlanOf } from '../config/rekeying.js';
import type { Pipeline, WindowConfig } from '../config/schema.js';
import { createLogger } from '../ops/logger.js';
import {
  dropWindowState,
  requireEmptyGroup,
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

/**
 * The pipeline's members as their state is kept: the source side (the windows computed where their
 * events are), and the side computing re-keyed windows (its own group and changelog over the
 * repartition topic) when any window is re-keyed.
 */
function maintained(pipeline: Pipeline): { source: MaintainedPipeline; rekeyed?: MaintainedPipeline } {
  const define = (w: WindowConfig) => defineWindow(w, pipeline.time, pipeline.source.keyedBy);
  const plan = rekeyPlanOf(pipeline);
  const topics = pipelineTopicsOf(pipeline);
  const source = {
    name: pipeline.name,
    groupId: groupIdOf(pipeline),
    topics,
    windows: plan.direct.map(define),
  };
  if (plan.rekeyed.length === 0) return { source };
  const names = rekeyedNamesOf(pipeline);
  return {
    source,
    rekeyed: {
      name: pipeline.name,
      groupId: names.groupId,
      topics: { ...topics, source: topics.repartition, changelog: names.changelog },
      windows: plan.rekeyed.map(define),
    },
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
      const sides = maintained(pipeline);
      const reports = await resetPipeline(kafka, sides.source, target, logger, sides.rekeyed);
      for (const r of reports)
        console.log(
          `partition ${r.partition}: offset ${r.from ?? 'none'} -> ${r.to}, ${r.windowsDropped} open window(s) dropped`,
        );
      console.log(
        `reset group ${groupIdOf(pipeline)} of pipeline ${pipeline.name} (${reports.length} partition(s))`,
      );
      if (sides.rekeyed)
        console.log(
          `reset group ${sides.rekeyed.groupId} (re-keyed windows) to the end of ${sides.rekeyed.topics.source}, its state dropped`,
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
          endpoints.clickhouse,
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
      if (pipeline.windows.some((w) => w.name === name))
        throw new SluiceError(
          `window ${name} is still defined in the pipeline: remove it from the config first, then drop its state`,
          { code: 'SLUICE_CONFIG_INVALID', retriable: false },
        );
      const sides = maintained(pipeline);
      const all = [sides.source, ...(sides.rekeyed ? [sides.rekeyed] : [])];
      // Every member of either side stopped before anything changes.
      for (const side of all) await requireEmptyGroup(kafka, side.groupId);
      let found = false;
      for (const side of all) {
        const { dropped } = await dropWindowState(kafka, side, name, logger);
        if (dropped.size === 0) continue;
        found = true;
        const windows = [...dropped.values()].reduce((a, b) => a + b, 0);
        console.log(
          `dropped ${windows} open window(s) of ${name} from ${dropped.size} partition(s) of ${side.topics.changelog}`,
        );
      }
      if (!found)
        console.log(
          `no state of window ${name} in ${all.map((side) => side.topics.changelog).join(' or ')}: nothing to drop`,
        );
    });
}
