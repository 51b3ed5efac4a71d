// Fault scenario: the Kafka broker restarts. The worker's broker (one of the test's own) is stopped
// mid-stream, stays down for 5 s (20 s in the full form) and starts again on its data, while the
// producer keeps trying and the worker keeps running: its fetches, heartbeats and transactions fail
// for a while, and when the broker is back it carries on by itself from what was committed, with
// every window exact. The second case times it on a commit: the broker is killed (SIGKILL, a crash)
// the moment a transaction's commit (EndTxn) goes out to it, seen by the Kafka fault proxy in front, so
// the worker cannot know whether that commit happened; after the restart every window must still be
// exact and every partition committed to the topic's end, on the same worker process. Kafka's coordinator
// sometimes completes that commit after the restart without writing its markers (it finds the partitions
// without a leader yet): the report counts the orphaned transactions the restores aborted.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePorts } from '../../src/tools/stack/ports.js';
import { isAlive, stopProcess } from '../../src/tools/stack/processes.js';
import { testClickHouse, waitFor } from '../integration/support/fixtures.js';
import { API_KEYS } from '../integration/support/kafka-fault-proxy.js';
import { startOwnBroker, type OwnBroker } from '../integration/support/own-broker.js';
import { startSluice, type SluiceProcess } from '../integration/support/sluice-process.js';
import {
  MemoryWatch,
  PARTITIONS,
  startProduction,
  verdict,
  scenarioPipeline,
  expectExact,
} from './fault-scenario.js';
import { commitNotes } from './commit-log.js';
import { topicEnds } from './committed-offsets.js';
import { FULL } from './scenario-report.js';
import { partitionStatus } from './worker-status.js';

const DOWN_MS = FULL ? 20_000 : 5_000;
/**
 * The stream runs from before the stop, through the outage (held up while the broker is away), and
 * this many slices after the broker is back (some 8 s, 15 s in the full form).
 */
const TAIL_SLICES = FULL ? 75 : 40;
/** Enough slices for the stream never to run out before the tail: it ends at its tail. */
const SLICES = Math.ceil((DOWN_MS + 60_000) / 200);

/**
 * Above the outage, the stream and the verdict's longest waits (windows, then commits), so a scenario
 * that never settles fails with its report and the worker's last lines rather than a bare timeout.
 */
const TEST_TIMEOUT_MS = FULL ? 720_000 : 420_000;

/** The restore's note when it aborted what a transaction completed without markers left behind. */
const SWEPT = /aborted the records of an earlier transaction/g;

describe('fault scenario: broker restart', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  /**
   * A stream through one worker on a broker of the scenario's own; `outage` takes the broker down and
   * brings it back while the stream goes on, and returns notes for the report. Every window must be
   * exact, and the same worker process must own every partition, committed to the topic's end.
   */
  async function scenario(
    name: string,
    options: { proxy: boolean; seed: number },
    outage: (broker: OwnBroker) => Promise<Record<string, string | number>>,
  ): Promise<void> {
    const broker = await startOwnBroker(`broker-${name}`, cleanups, { proxy: options.proxy });
    const { kafka } = broker;
    const [statusPort] = await freePorts(1);
    const clickhouse = testClickHouse();
    cleanups.push(() => clickhouse.close());

    const { topic, database, groupId, config } = await scenarioPipeline(kafka, name, {
      brokers: broker.address,
      clickhouseUrl: inject('clickhouseUrl'),
      httpPort: statusPort,
    });
    const memory = new MemoryWatch();
    const sluice: SluiceProcess = startSluice(['run', '--config', config]);
    cleanups.push(() => sluice.stop('SIGKILL'));
    memory.watch(sluice.child.pid);
    const status = () => partitionStatus(statusPort!);
    await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

    const production = startProduction(kafka, topic, { slices: SLICES, seed: options.seed });
    const notes = await outage(broker);
    expect(production.state.producing).toBe(true);
    production.endAfter(TAIL_SLICES);
    await production.done;

    const result = await verdict({
      scenario: `${name.replace('_', ' ')} (down ${DOWN_MS / 1000} s)`,
      kafka,
      clickhouse,
      topic,
      database,
      groupId,
      produced: production.state.produced,
      memory,
      notes: {
        ...notes,
        ...commitNotes(sluice.output()),
        'orphaned transactions aborted': sluice.output().match(SWEPT)?.length ?? 0,
      },
    });
    const context = sluice.output().slice(-3000);
    expectExact(result, sluice.output());
    // The same worker process all along, owning every partition, each committed to its end.
    const atEnd = await status();
    const ends = new Map((await topicEnds(kafka, topic)).map((p) => [p.partition, p.dataEnd?.toString()]));
    expect(atEnd.map((p) => p.partition).sort((a, b) => a - b)).toEqual([0, 1, 2]);
    for (const p of atEnd) expect(p.committedOffset, `partition ${p.partition}`).toBe(ends.get(p.partition));
    expect(sluice.child.exitCode, context).toBeNull();
    expect(await sluice.stop('SIGTERM')).toBe(0);
  }

  it(
    `carries on exactly when the broker is down for ${DOWN_MS / 1000} s mid-stream`,
    () =>
      scenario('restart', { proxy: false, seed: 5151 }, async (broker) => {
        await sleep(8_000);
        await stopProcess(broker.pid, 30_000);
        await sleep(DOWN_MS);
        const restartAt = Date.now();
        await broker.restart();
        return { 'broker start ms': Date.now() - restartAt };
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    `carries on exactly when the broker is killed as a commit goes out and is back ${DOWN_MS / 1000} s later`,
    () =>
      scenario('restart_commit', { proxy: true, seed: 5252 }, async (broker) => {
        await sleep(6_000);
        const commit = broker.proxy!.next({ apiKey: API_KEYS.EndTxn, match: (r) => r.commit === true });
        const onCommit = await Promise.race([commit.then(() => true), sleep(15_000).then(() => false)]);
        const killed = broker.pid;
        process.kill(killed, 'SIGKILL');
        await waitFor(
          'the broker to be gone',
          () => Promise.resolve(!isAlive(killed)),
          (gone) => gone,
          10_000,
        );
        await sleep(DOWN_MS);
        await broker.restart();
        expect(onCommit, 'a commit went out to be cut').toBe(true);
        return { 'killed right after an EndTxn commit went out': onCommit ? 'yes' : 'no' };
      }),
    TEST_TIMEOUT_MS,
  );
});
