// `sluice late replay`: merges the events of the late-events topic (past their window's allowed
// lateness) into the ClickHouse rows of the windows they missed (runtime/late-replay.ts). Progress is
// committed under the group `sluice-late-replay-<pipeline>` after each batch; a run that stops before
// that commit is repeated harmlessly, as each row remembers the late records merged into it.
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { resolveEndpoints } from '../config/endpoints.js';
import { loadPipelineFile } from '../config/load.js';
import { ConfigError } from '../config/config-error.js';
import { pipelineTopicsOf } from '../config/pipeline-topics.js';
import { SluiceError, messageOf } from '../errors.js';
import { createLogger } from '../ops/logger.js';
import { compilePipeline } from '../runtime/compiled-pipeline.js';
import { LateReplay } from '../runtime/late-replay.js';
import { DEAD_LETTER_HEADERS } from '../sinks/dead-letters.js';
import { LateWindowRows } from '../sinks/late-window-rows.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';
import { readTopicToEnd } from '../source/topic-reader.js';
import { partitionCountOf } from '../source/topic-admin.js';

interface LateReplayOptions {
  config: string;
  dryRun?: boolean;
  limit?: string;
  since?: string;
}

function sinceCutoff(text: string | undefined): number {
  if (text === undefined) return Number.NEGATIVE_INFINITY;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new ConfigError([{ path: '--since', expected: "a duration such as '1h' or '7d'", found: text }]);
  return Date.now() - ms;
}

function limitOf(text: string | undefined): number {
  if (text === undefined) return Number.POSITIVE_INFINITY;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError([{ path: '--limit', expected: 'a whole number of late records', found: text }]);
  return n;
}

async function replayLate(opts: LateReplayOptions): Promise<void> {
  const cutoff = sinceCutoff(opts.since);
  const limit = limitOf(opts.limit);
  const pipeline = await loadPipelineFile(opts.config);
  const endpoints = await resolveEndpoints(pipeline);
  if (!endpoints.clickhouse)
    throw new ConfigError([
      {
        path: 'sinks.clickhouse.enabled',
        expected: 'true: late events are merged into the ClickHouse rows of their windows',
        found: 'false',
      },
    ]);
  await checkKafka(endpoints.brokers);
  const logger = createLogger('error');
  const kafka = createKafka(endpoints.brokers, 'sluice-late-replay', logger);
  const topic = pipelineTopicsOf(pipeline).late;
  if ((await partitionCountOf(kafka, topic)) === undefined) {
    console.log(`no late events: topic ${topic} does not exist yet`);
    return;
  }
  const compiled = await compilePipeline(pipeline, endpoints, { baseDir: process.cwd(), logger });
  const rows = new LateWindowRows(pipeline, endpoints.clickhouse, opts.dryRun === true);
  const replay = new LateReplay(pipeline, compiled, rows, {
    dryRun: opts.dryRun === true,
    ...(opts.dryRun ? { onOutcome: (outcome) => console.log(JSON.stringify(outcome)) } : {}),
  });
  let taken = 0;
  let failed: unknown;
  try {
    await readTopicToEnd(kafka, topic, {
      groupId: `sluice-late-replay-${pipeline.name}`,
      commit: !opts.dryRun,
      onBatch: async (messages) => {
        let consumed = 0;
        for (const message of messages) {
          if (taken >= limit) break;
          const writtenAt = Date.parse((message.headers?.[DEAD_LETTER_HEADERS.failedAt] ?? '').toString());
          // Older than --since: passed over (consumed), as `dlq replay` does.
          if (cutoff === Number.NEGATIVE_INFINITY || writtenAt >= cutoff) {
            try {
              await replay.replay(message);
            } catch (error) {
              // Stop here: what came before is committed, this record is the next run's first.
              failed = error;
              return consumed;
            }
            taken += 1;
          }
          consumed += 1;
        }
        return consumed;
      },
    });
  } finally {
    await rows.close();
    await compiled.close();
  }
  console.log(`late replay of ${topic}${opts.dryRun ? ' (dry run: nothing written or committed)' : ''}`);
  for (const line of replay.summary()) console.log(`  ${line}`);
  if (failed !== undefined)
    throw failed instanceof SluiceError
      ? failed
      : new SluiceError(
          `late replay stopped at a record it could not merge, progress committed up to it: ${messageOf(failed)}. Fix the cause and run it again`,
          { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true, cause: failed },
        );
}

export function registerLateCommands(program: Command): void {
  const late = program
    .command('late')
    .description('merge late events (past their allowed lateness) into the windows they missed');
  late
    .command('replay')
    .description(
      'merge each late event into the ClickHouse rows of the windows it missed (tumbling and sliding; count_distinct and sessions are reported, not merged); progress is committed, and rows remember what they took, so each is merged once',
    )
    .requiredOption('-c, --config <file>', 'the pipeline whose late events these are')
    .option('--limit <n>', 'merge at most n late records')
    .option('--since <duration>', 'only late records written within this long ago, e.g. 2h')
    .option('--dry-run', 'print what would be merged; write and commit nothing')
    .action(async (opts: LateReplayOptions) => {
      await replayLate(opts);
    });
}
