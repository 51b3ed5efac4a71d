// Nothing given up without a way back, against the real broker and ClickHouse: a window with a small key
// cap on a stream of many keys dead-letters exactly the events it drops (reason key-cap, the window,
// the cap), counted, and `sluice dlq replay` after raising the cap lands every one of them once; rows
// the ClickHouse sink gives up on while ClickHouse is cut off (onExhausted: dead-letter) are committed
// past, and `sluice dlq replay --sink-rows` lands them exactly once after the fix (a second run replays
// nothing). Both for windows computed in the source's partitions and for re-keyed ones.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { IHeaders, Kafka } from 'kafkajs';
import { definePipeline, run, type RunningPipeline } from '../../../src/index.js';
import { createTopic, queryRows, readTopic, uniqueName, waitFor } from '../support/fixtures.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { captureLog } from '../support/log-capture.js';
import {
  countingPipeline,
  countsIn,
  groundTruth,
  produceEvents,
  waitForCommits,
  waitForCounts,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';
import { useTestServices } from '../support/services.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';

const PARTITIONS = 2;
const HOUR = 3_600_000;
/** On the hour: every event of the stream falls in one window of an hour. */
const BASE = Date.UTC(2026, 4, 1, 10);
const MAX_KEYS = 4;

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return (Array.isArray(value) ? value.at(-1) : value)?.toString();
}

describe('records and rows given up on', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  // Computed per source partition (declared keyed by a field of its groupBy), the cap applies per
  // partition, as the truth below counts it. Re-keyed (the default), on one partition, the re-keyed
  // windows see the events in the source's order: the same truth, and the dead letters go back to the
  // repartition topic.
  it.each([
    ['computed per source partition', PARTITIONS, ['type']],
    ['re-keyed', 1, undefined],
  ] as const)(
    'dead-letters every event the key cap drops (%s), counted, and brings each back once the cap is raised',
    async (_, partitions, keyedBy) => {
      const name = uniqueName('keycap');
      const topic = uniqueName('user_events');
      const database = uniqueName('keycap');
      await createTopic(kafka, topic, partitions);
      // One window of an hour that stays open (idle timeout: an hour) until a later event closes it.
      const config = (maxKeys: number) => {
        const base = countingPipeline({
          name,
          topic,
          database,
          idleTimeout: '1h',
          windowSize: '1h',
          ...(keyedBy ? { keyedBy: [...keyedBy] } : {}),
        });
        return { ...base, windows: base.windows.map((w) => ({ ...w, maxKeys })) };
      };
      const produced = await withProducer(kafka, (producer) =>
        produceEvents(producer, topic, {
          partitions,
          perPartition: 250,
          base: BASE,
          span: 30 * 60_000,
          seed: 41,
        }),
      );
      // Ground truth: per partition, in offset order, the first MAX_KEYS (type, url) keys get in.
      const dropped = new Set<string>();
      for (let partition = 0; partition < partitions; partition += 1) {
        const keys = new Set<string>();
        for (const p of produced.filter((r) => r.partition === partition)) {
          const key = `${p.event!.type}|${p.event!.url}`;
          if (!keys.has(key) && keys.size < MAX_KEYS) keys.add(key);
          if (!keys.has(key)) dropped.add(p.event!.eventId);
        }
      }
      expect(dropped.size).toBeGreaterThan(100);

      const capped: RunningPipeline = await run(definePipeline(config(MAX_KEYS)), {
        logger: captureLog().logger,
      });
      await waitForCommits(kafka, `sluice-${name}`, topic, produced);
      // The key cap applies where the windows are: the re-keyed side's partitions, when re-keyed.
      const letters = await readTopic(kafka, `${topic}.dlq`, dropped.size);
      const pipelineStatus = capped.pipelineStatus();
      const status = (pipelineStatus.rekeyed ?? pipelineStatus).partitions;
      await capped.stop();
      expect(status.reduce((n, p) => n + p.keyCapped, 0)).toBe(dropped.size);
      expect(status.reduce((n, p) => n + p.keyCapDropped, 0)).toBe(dropped.size);

      expect(
        new Set(letters.map((l) => (JSON.parse(l.value!.toString()) as { eventId: string }).eventId)),
      ).toEqual(dropped);
      expect(letters).toHaveLength(dropped.size);
      for (const letter of letters) {
        expect(header(letter.headers, 'sluice.reason')).toBe('key-cap');
        expect(header(letter.headers, 'sluice.stage')).toBe('window');
        expect(header(letter.headers, 'sluice.key-cap.windows')).toBe(`views@${BASE}`);
        expect(header(letter.headers, 'sluice.key-cap.max-keys')).toBe(`views=${MAX_KEYS}`);
        expect(header(letter.headers, 'sluice.source.topic')).toBe(
          keyedBy ? topic : `sluice-${name}-repartition`,
        );
      }

      // The fix: a raised cap. The window is still open (restored from the changelog); the replay fills it.
      const file = writeConfig(config(1_000));
      const fixed = await run(definePipeline(config(1_000)), { logger: captureLog().logger });
      try {
        const replay = await runSluice(['dlq', 'replay', '--config', file]);
        expect(replay.output, replay.output).toContain(`replayed ${dropped.size} dead letter(s)`);
        const again = await runSluice(['dlq', 'replay', '--config', file]);
        expect(again.output, again.output).toContain('replayed 0 dead letter(s)');
        // A later event per partition closes the window.
        const closing: Produced[] = await withProducer(kafka, (producer) =>
          produceEvents(producer, topic, {
            partitions,
            perPartition: 1,
            base: BASE + 3 * HOUR,
            span: 1_000,
            seed: 42,
            jitterMs: 0,
          }),
        );
        const truth = groundTruth(produced, () => true, HOUR);
        await waitForCounts(clickhouse, database, truth);
        const where = () => {
          const s = fixed.pipelineStatus();
          return (s.rekeyed ?? s).partitions;
        };
        await waitFor(
          'the replayed records and the closing events committed',
          () => Promise.resolve(where()),
          (s) => s.reduce((n, p) => n + p.completed, 0) >= dropped.size + closing.length,
        );
        expect(await countsIn(clickhouse, database)).toEqual(truth);
        // Nothing dropped under the raised cap, nothing late: the replayed events went where they were missed.
        expect(where().reduce((n, p) => n + p.keyCapped + p.late + p.deadLettered, 0)).toBe(0);
        expect(fixed.status().reduce((n, p) => n + p.late + p.deadLettered, 0)).toBe(0);
      } finally {
        await fixed.stop();
      }
    },
  );

  // Computed per source partition (declared keyed by a field of its groupBy): one row per window, key
  // and source partition. Re-keyed: one row per window and key, given up on by the re-keyed side.
  it.each([
    ['computed per source partition', ['type']],
    ['re-keyed', undefined],
  ] as const)(
    'dead-letters the rows ClickHouse cannot take (%s), commits past them, and replays them once with --sink-rows',
    async (_, keyedBy) => {
      const name = uniqueName('sinkrows');
      const topic = uniqueName('user_events');
      const database = uniqueName('sinkrows');
      await createTopic(kafka, topic, PARTITIONS);
      const proxy = await startFaultProxy(inject('clickhouseUrl'));
      const base = countingPipeline({
        name,
        topic,
        database,
        idleTimeout: '1s',
        ...(keyedBy ? { keyedBy: [...keyedBy] } : {}),
      });
      const sink = (url: string) => ({
        ...base.sinks.clickhouse,
        url,
        onExhausted: 'dead-letter' as const,
        batch: { maxSize: 100, maxWaitMs: 200 },
        retry: { max: 1, baseDelay: '50ms' },
        // The circuit would turn giving up into backpressure: keep it closed.
        circuitBreaker: { failures: 1_000_000, halfOpenAfter: '1s' },
      });
      const running = await run(definePipeline({ ...base, sinks: { clickhouse: sink(proxy.url) } }), {
        logger: captureLog().logger,
      });
      try {
        // The table exists (made at start-up); then ClickHouse is cut off for good.
        proxy.cut();
        const produced = await withProducer(kafka, (producer) =>
          produceEvents(producer, topic, {
            partitions: PARTITIONS,
            perPartition: 200,
            base: BASE,
            span: 5 * 60_000,
            seed: 43,
          }),
        );
        await waitForCommits(kafka, `sluice-${name}`, topic, produced);
        const truth = groundTruth(produced);
        // One row per (window, type, url), and per source partition unless re-keyed, each given up on.
        const rows = new Set(
          produced.map(
            (p) =>
              `${Math.floor(p.event!.timestamp / 60_000)}|${p.event!.type}|${p.event!.url}|${keyedBy ? p.partition : ''}`,
          ),
        ).size;
        // The last windows close on idleness after their records are committed (their state is).
        const letters = await readTopic(kafka, `${topic}.dlq`, rows);
        await running.stop();
        expect(letters).toHaveLength(rows);
        for (const letter of letters) {
          expect(header(letter.headers, 'sluice.reason')).toBe('sink-exhausted');
          expect(header(letter.headers, 'sluice.sink.target')).toBe('views');
        }
        expect(await countsIn(clickhouse, database)).toEqual({});

        // The fix: ClickHouse reachable again (the CLI goes to it directly).
        const file = writeConfig({ ...base, sinks: { clickhouse: sink(inject('clickhouseUrl')) } });
        const source = await runSluice(['dlq', 'replay', '--config', file]);
        expect(source.output, source.output).toContain('replayed 0 dead letter(s)');
        expect(source.output).toContain(`passed over ${rows} result row(s)`);
        const dry = await runSluice(['dlq', 'replay', '--sink-rows', '--dry-run', '--config', file]);
        expect(dry.output, dry.output).toContain(`would replay ${rows} sink row(s)`);
        expect(await countsIn(clickhouse, database)).toEqual({});
        const first = await runSluice(['dlq', 'replay', '--sink-rows', '--config', file]);
        expect(first.output, first.output).toContain(`replayed ${rows} sink row(s)`);
        expect(await countsIn(clickhouse, database)).toEqual(truth);
        const raw = () =>
          queryRows<{ n: string }>(clickhouse, `SELECT count() AS n FROM ${database}.views_rows`).then((r) =>
            Number(r[0]!.n),
          );
        expect(await raw()).toBe(rows);
        const second = await runSluice(['dlq', 'replay', '--sink-rows', '--config', file]);
        expect(second.output, second.output).toContain('replayed 0 sink row(s)');
        expect(await raw()).toBe(rows);
        expect(await countsIn(clickhouse, database)).toEqual(truth);
      } finally {
        await running.stop().catch(() => undefined);
        await proxy.close();
      }
    },
  );
});
