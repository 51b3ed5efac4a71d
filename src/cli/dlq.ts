// `sluice dlq inspect|replay|purge`: look at dead letters, re-publish them to their source topic once
// the bug is fixed (or, with --sink-rows, write the rows a sink gave up on to their table or topic once
// the sink works again), and drop old ones. The dead-letter topic is time-retained (cleanup.policy=delete):
// dead letters have no key that a newer record could supersede, so compaction would keep the wrong
// ones; purge deletes everything older than a cutoff instead.
import type { Command } from 'commander';
import type { RecordHeaders } from '../source/outgoing-record.js';
import { idempotentProducer, type RecordProducer } from '../source/record-producer.js';
import { deleteRecordsBefore, offsetsAt, partitionCountOf } from '../source/topic-admin.js';
import { parseDuration } from '../config/duration.js';
import { resolveBrokers, resolveEndpoints } from '../config/endpoints.js';
import { loadPipelineFile } from '../config/load.js';
import { ConfigError } from '../config/config-error.js';
import { SluiceError, messageOf } from '../errors.js';
import { createLogger } from '../ops/logger.js';
import { pipelineTopicsOf } from '../config/pipeline-topics.js';
import { DEAD_LETTER_HEADERS, isSinkDeadLetter, replayHeaders } from '../sinks/dead-letters.js';
import { SinkRowReplay, sinkRowOf, type SinkRowLetter } from '../sinks/sink-row-replay.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';
import { readTopicToEnd, type TopicMessage } from '../source/topic-reader.js';

interface DlqOptions {
  config: string;
  topic?: string;
}

function header(headers: RecordHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const last = Array.isArray(value) ? value.at(-1) : value;
  return last?.toString();
}

function durationOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new ConfigError([{ path: name, expected: "a duration such as '1h' or '7d'", found: text }]);
  return ms;
}

async function context(opts: DlqOptions) {
  const pipeline = await loadPipelineFile(opts.config);
  const brokers = await resolveBrokers(pipeline);
  await checkKafka(brokers);
  const kafka = createKafka(brokers, 'sluice-dlq', createLogger('error'));
  const topic = opts.topic ?? pipelineTopicsOf(pipeline).deadLetter;
  const exists = (await partitionCountOf(kafka, topic)) !== undefined;
  // Sluice creates the dead-letter topic with its first dead letter: none yet is not an error.
  if (!exists) console.error(`no dead letters: topic ${topic} does not exist yet (nothing has failed)`);
  return { pipeline, kafka, topic, exists };
}

function describe(message: TopicMessage): Record<string, string | undefined> {
  const h = DEAD_LETTER_HEADERS;
  return {
    dlq: `${message.partition}@${message.offset}`,
    source: `${header(message.headers, h.sourceTopic)}[${header(message.headers, h.sourcePartition)}]@${header(message.headers, h.sourceOffset)}`,
    stage: header(message.headers, h.stage),
    reason: header(message.headers, h.reason),
    attempts: header(message.headers, h.attempts),
    failedAt: header(message.headers, h.failedAt),
    error: header(message.headers, h.error),
    value: message.value?.toString('utf8').slice(0, 200),
  };
}

interface ReplayOptions extends DlqOptions {
  limit?: string;
  since?: string;
  dryRun?: boolean;
  sinkRows?: boolean;
}

type DlqContext = Awaited<ReturnType<typeof context>>;

/**
 * Reads the dead letters not replayed yet under `groupId`, hands those that `take` wants (failed since
 * --since, at most --limit) to `replay` a batch at a time, and commits the batch's progress after it:
 * each is replayed once, and a failed replay leaves it to the next run. Passed-over ones are consumed.
 */
async function replayLetters(
  opts: ReplayOptions,
  groupId: string,
  take: (message: TopicMessage) => boolean,
  replay: (letters: TopicMessage[], found: DlqContext) => Promise<void>,
) {
  const sinceMs = durationOption('--since', opts.since);
  const found = await context(opts);
  if (!found.exists) return undefined;
  const cutoff = sinceMs === undefined ? Number.NEGATIVE_INFINITY : Date.now() - sinceMs;
  const limit = opts.limit === undefined ? Number.POSITIVE_INFINITY : Number(opts.limit);
  let replayed = 0;
  let passedOver = 0;
  let failed: unknown;
  await readTopicToEnd(found.kafka, found.topic, {
    groupId: `${groupId}-${found.pipeline.name}`,
    commit: !opts.dryRun,
    onBatch: async (messages) => {
      let consumed = 0;
      const letters: TopicMessage[] = [];
      for (const message of messages) {
        if (replayed >= limit) break;
        consumed += 1;
        const failedAt = Date.parse(header(message.headers, DEAD_LETTER_HEADERS.failedAt) ?? '');
        if (!(failedAt >= cutoff)) continue;
        if (!take(message)) {
          passedOver += 1;
          continue;
        }
        replayed += 1;
        letters.push(message);
      }
      if (letters.length === 0) return consumed;
      try {
        await replay(letters, found);
        return consumed;
      } catch (error) {
        // Stop here, committing nothing of this batch: the next run starts with it again.
        failed = error;
        replayed -= letters.length;
        return 0;
      }
    },
  });
  if (failed === undefined) return { topic: found.topic, replayed, passedOver };
  // Not Sluice's own (ClickHouse failures are): the producer's, writing to Kafka.
  throw failed instanceof SluiceError
    ? failed
    : new SluiceError(`replay stopped, its last batch not committed: ${messageOf(failed)}`, {
        code: 'SLUICE_KAFKA_UNAVAILABLE',
        retriable: true,
        cause: failed,
      });
}

async function replaySourceRecords(opts: ReplayOptions): Promise<void> {
  let producer: RecordProducer | undefined;
  try {
    const done = await replayLetters(
      opts,
      'sluice-dlq-replay',
      // A sink's result row, not a source record: re-publishing it to the source means nothing.
      (message) => !isSinkDeadLetter(message.headers),
      async (letters, { kafka, pipeline, topic }) => {
        for (const message of letters) {
          const target = header(message.headers, DEAD_LETTER_HEADERS.sourceTopic) ?? pipeline.source.topic;
          const partition = Number(header(message.headers, DEAD_LETTER_HEADERS.sourcePartition));
          if (opts.dryRun) {
            console.log(JSON.stringify({ to: target, ...describe(message) }));
            continue;
          }
          if (!producer) {
            producer = idempotentProducer(kafka);
            await producer.connect();
          }
          await producer.send(target, [
            {
              key: message.key,
              value: message.value,
              ...(Number.isInteger(partition) ? { partition } : {}),
              headers: replayHeaders(message.headers, `${topic}/${message.partition}/${message.offset}`),
            },
          ]);
        }
      },
    );
    if (!done) return;
    console.log(
      `${opts.dryRun ? 'would replay' : 'replayed'} ${done.replayed} dead letter(s) from ${done.topic}`,
    );
    if (done.passedOver > 0)
      console.log(
        `passed over ${done.passedOver} result row(s) a sink refused or gave up on (sluice.reason sink-*): replay those with \`sluice dlq replay --sink-rows\``,
      );
  } finally {
    await producer?.disconnect();
  }
}

async function replaySinkRows(opts: ReplayOptions): Promise<void> {
  let replay: SinkRowReplay | undefined;
  try {
    const done = await replayLetters(
      opts,
      'sluice-dlq-replay-sink-rows',
      (message) => sinkRowOf(message.headers, message.value) !== undefined,
      async (letters, { kafka, pipeline }) => {
        const rows = letters.map((m) => sinkRowOf(m.headers, m.value) as SinkRowLetter);
        if (opts.dryRun) {
          rows.forEach((r) => console.log(JSON.stringify({ to: `${r.sink}:${r.target}`, row: r.row })));
          return;
        }
        if (!replay) {
          const { clickhouse } = await resolveEndpoints(pipeline);
          replay = new SinkRowReplay(pipeline, clickhouse, () => idempotentProducer(kafka));
        }
        await replay.write(rows);
      },
    );
    if (!done) return;
    console.log(
      `${opts.dryRun ? 'would replay' : 'replayed'} ${done.replayed} sink row(s) from ${done.topic}`,
    );
    if (done.passedOver > 0)
      console.log(
        `passed over ${done.passedOver} dead letter(s) that are source records: replay those without --sink-rows`,
      );
  } finally {
    await replay?.close();
  }
}

export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('inspect, replay and purge the dead-letter topic');
  const configOption = ['-c, --config <file>', 'the pipeline whose dead letters these are'] as const;

  dlq
    .command('inspect')
    .description('print dead letters with where they came from and why they failed')
    .requiredOption(...configOption)
    .option('--topic <name>', 'dead-letter topic (default: from the pipeline)')
    .option('--limit <n>', 'print at most n', '50')
    .option('--json', 'one JSON object per line')
    .action(async (opts: DlqOptions & { limit: string; json?: boolean }) => {
      const { kafka, topic, exists } = await context(opts);
      if (!exists) return;
      const limit = Number(opts.limit);
      const rows: Record<string, string | undefined>[] = [];
      await readTopicToEnd(kafka, topic, {
        onBatch: (messages) => {
          const take = messages.slice(0, limit - rows.length);
          rows.push(...take.map(describe));
          return Promise.resolve(take.length);
        },
      });
      if (opts.json) rows.forEach((row) => console.log(JSON.stringify(row)));
      else if (rows.length > 0) console.table(rows);
      console.error(`${rows.length} dead letter(s) shown from ${topic}`);
    });

  dlq
    .command('replay')
    .description(
      're-publish dead letters to their source topic (--sink-rows: write rows a sink gave up on to their table or topic); progress is committed, so each is replayed once',
    )
    .requiredOption(...configOption)
    .option('--topic <name>', 'dead-letter topic (default: from the pipeline)')
    .option('--limit <n>', 'replay at most n')
    .option('--since <duration>', 'only dead letters that failed within this long ago, e.g. 2h')
    .option(
      '--sink-rows',
      'replay the result rows a sink refused or gave up on (sluice.reason sink-rejected, sink-exhausted) into the table or topic they were meant for, instead of source records',
    )
    .option('--dry-run', 'print what would be replayed; publish and commit nothing')
    .action(async (opts: ReplayOptions) => {
      if (opts.sinkRows) await replaySinkRows(opts);
      else await replaySourceRecords(opts);
    });

  dlq
    .command('purge')
    .description('delete dead letters older than a duration')
    .requiredOption(...configOption)
    .option('--topic <name>', 'dead-letter topic (default: from the pipeline)')
    .requiredOption('--older-than <duration>', 'e.g. 7d')
    .action(async (opts: DlqOptions & { olderThan: string }) => {
      const age = durationOption('--older-than', opts.olderThan) as number;
      const { kafka, topic, exists } = await context(opts);
      if (!exists) return;
      const cut = await offsetsAt(kafka, topic, Date.now() - age);
      // Counted by reading: offsets also number transaction markers (dead letters are transactional
      // under exactly-once) and the records of aborted transactions.
      let purged = 0;
      await readTopicToEnd(kafka, topic, {
        onBatch: (messages) => {
          purged += messages.filter((m) => BigInt(m.offset) < (cut.get(m.partition) ?? 0n)).length;
          return Promise.resolve(messages.length);
        },
      });
      await deleteRecordsBefore(kafka, topic, cut);
      console.log(`purged ${purged} dead letter(s) older than ${opts.olderThan} from ${topic}`);
    });
}
