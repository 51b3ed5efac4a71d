// Fault scenario: Kafka splits a transaction. A coordinator that writes a commit's markers while a
// partition has no leader (right after a broker crash) skips it and records the commit as done: the
// rest of the transaction is committed, that partition's records are left open. Here it is made on
// purpose for the source side's changelog (support/txn-partition-shift.ts, behind the fault proxy of a
// broker of this test's own): for a few commits every source partition's events reach the repartition
// topic and its group offset moves, while its state stays open in the changelog. The worker is then
// killed. Its restart aborts the open state, resumes each partition at the checkpoint before it (not
// at the group's offset: the events in between would be in no window) and sends those events to the
// repartition topic a second time; the re-keyed windows, which took them in the first time, must drop
// the copies. Every window exact, every late event in the late-events topic, each partition committed
// to the topic's end.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { testClickHouse, waitFor } from '../integration/support/fixtures.js';
import { startOwnBroker } from '../integration/support/own-broker.js';
import { startSluice } from '../integration/support/sluice-process.js';
import { shiftTransactionPartitions } from '../integration/support/txn-partition-shift.js';
import {
  MemoryWatch,
  PARTITIONS,
  expectExact,
  restoredLatestAssignment,
  scenarioPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';

/** About 20 s of stream: some before the split, the split and the restart, and some after. */
const SLICES = 100;

/** A source partition committed events for the repartition topic (more than its three markers). */
const repartitionWritten =
  /"service":"sluice","partition":\d+,"offset":"\d+","records":\d+,"outputs":([4-9]|\d{2,}),"msg":"committed"/g;
const SWEPT = /aborted the records of an earlier transaction/g;
const RESUMED = /the group's committed offset came from a transaction that Kafka completed/g;
const DROPPED = /events of a source partition came again/g;

describe('fault scenario: a transaction Kafka splits', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('counts every re-keyed event once when the source state of committed events is lost and replayed', async () => {
    const broker = await startOwnBroker('split', cleanups, {
      proxy: true,
      extraProperties: { 'transaction.partition.verification.enable': 'false' },
    });
    const { kafka } = broker;
    const clickhouse = testClickHouse();
    cleanups.push(() => clickhouse.close());
    const { name, topic, database, groupId, config } = await scenarioPipeline(kafka, 'split', {
      brokers: broker.address,
      clickhouseUrl: inject('clickhouseUrl'),
    });
    const memory = new MemoryWatch();
    // Debug logs: each commit is a line, with how many records it wrote beside the changelog's.
    const start = () => {
      const sluice = startSluice(['run', '--config', config], { SLUICE_LOG_LEVEL: 'debug' });
      cleanups.push(() => sluice.stop('SIGKILL'));
      memory.watch(sluice.child.pid);
      return sluice;
    };
    const first = start();
    await waitFor(
      'the worker to restore and start',
      () => Promise.resolve(first.output()),
      restoredLatestAssignment,
      60_000,
    );
    const production = startProduction(kafka, topic, { slices: SLICES, seed: 6161 });
    await sleep(5_000);

    // The split: the changelog's partitions of every transaction from now on are registered wrong, so
    // their state stays open while the events and the offsets commit. Three commits that wrote events.
    const splitFrom = first.output().length;
    broker.proxy!.rewrite(shiftTransactionPartitions([`sluice-${name}-changelog`], PARTITIONS));
    const underSplit = await waitFor(
      'three commits of events under the split',
      () => Promise.resolve(first.output().slice(splitFrom).match(repartitionWritten)?.length ?? 0),
      (commits) => commits >= 3,
      30_000,
    ).catch(() => 0);
    // Killed before any commit under a sound registration could end the open records.
    await first.stop('SIGKILL');
    broker.proxy!.rewrite(undefined);
    expect(underSplit, first.output().slice(-3000)).toBeGreaterThanOrEqual(3);
    expect(production.state.producing, 'the split came mid-stream').toBe(true);

    const second = start();
    await production.done;
    const output = second.output.bind(second);
    const result = await verdict({
      scenario: 'split transaction (changelog left open, events and offsets committed)',
      kafka,
      clickhouse,
      topic,
      database,
      groupId,
      produced: production.state.produced,
      memory,
      notes: {
        'orphaned transactions aborted': output().match(SWEPT)?.length ?? 0,
        'partitions resumed at their checkpoint': output().match(RESUMED)?.length ?? 0,
        're-keyed partitions that dropped copies': output().match(DROPPED)?.length ?? 0,
      },
    });
    expectExact(result, output());
    // The scenario happened as meant: state swept, partitions resumed behind the group, copies dropped.
    expect(output().match(SWEPT)?.length ?? 0, 'orphaned transactions aborted').toBeGreaterThan(0);
    expect(output().match(RESUMED)?.length ?? 0, 'partitions resumed at their checkpoint').toBeGreaterThan(0);
    expect(output().match(DROPPED)?.length ?? 0, 're-keyed copies dropped').toBeGreaterThan(0);
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 420_000);
});
