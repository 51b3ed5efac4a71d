// Fault scenario: commits that fail halfway. The worker's broker (one of the test's own) sits behind a
// Kafka-aware proxy that resets every connection at a chosen step of a transaction: an EndTxn commit
// (before the broker sees it, or after it committed and before the answer comes back) and a
// TxnOffsetCommit, several times while the stream flows. Each failed commit must lead back to the last
// durable checkpoint without a restart: every window exact, the group's committed offsets at the
// topic's end, and every partition still committing after the last cut.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePorts } from '../../src/tools/stack/ports.js';
import { testClickHouse, waitFor } from '../integration/support/fixtures.js';
import { API_KEYS, type CutTrigger, type KafkaCut } from '../integration/support/kafka-fault-proxy.js';
import { startOwnBroker } from '../integration/support/own-broker.js';
import { startSluice } from '../integration/support/sluice-process.js';
import { commitNotes } from './commit-log.js';
import { topicEnds } from './committed-offsets.js';
import {
  MemoryWatch,
  PARTITIONS,
  expectExact,
  scenarioPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';
import { partitionStatus } from './worker-status.js';

const END_TXN_CUTS = FULL ? 10 : 3;
const OFFSET_CUTS = FULL ? 4 : 2;
/** Time for the worker to get back to committing between two cuts. */
const GAP_MS = 3_000;
/** A cut that has not hit by then is counted as missed (no partition is committing any more). */
const HIT_TIMEOUT_MS = 15_000;
/** The stream's slices after the last cut (some 5 s). */
const TAIL_SLICES = 25;

/**
 * The cuts in order: EndTxn commits, half of them before the broker sees the request and half after it
 * committed (the answer is lost), then TxnOffsetCommit the same way; `nth` spreads them over partitions.
 */
function plan(): CutTrigger[] {
  const cuts: CutTrigger[] = [];
  for (let i = 0; i < END_TXN_CUTS; i += 1)
    cuts.push({
      apiKey: API_KEYS.EndTxn,
      match: (r) => r.commit === true,
      at: i % 2 === 0 ? 'request' : 'response',
      nth: 1 + (i % PARTITIONS),
    });
  for (let i = 0; i < OFFSET_CUTS; i += 1)
    cuts.push({ apiKey: API_KEYS.TxnOffsetCommit, at: i % 2 === 0 ? 'request' : 'response', nth: 1 + i });
  return cuts;
}

const NAMES: Record<number, string> = {
  [API_KEYS.EndTxn]: 'EndTxn',
  [API_KEYS.TxnOffsetCommit]: 'TxnOffsetCommit',
};

describe('fault scenario: commit failures', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(
    `keeps committing exactly through ${END_TXN_CUTS} cuts at EndTxn and ${OFFSET_CUTS} at TxnOffsetCommit`,
    async () => {
      const broker = await startOwnBroker('commit-failures', cleanups, { proxy: true });
      const { kafka } = broker;
      const proxy = broker.proxy!;
      const [statusPort] = await freePorts(1);
      const clickhouse = testClickHouse();
      cleanups.push(() => clickhouse.close());

      const { groupId, topic, database, config } = await scenarioPipeline(kafka, 'commitcut', {
        brokers: proxy.address,
        clickhouseUrl: inject('clickhouseUrl'),
        httpPort: statusPort,
      });
      const memory = new MemoryWatch();
      const sluice = startSluice(['run', '--config', config]);
      cleanups.push(() => sluice.stop('SIGKILL'));
      memory.watch(sluice.child.pid);
      const status = () => partitionStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const triggers = plan();
      const slices = Math.ceil((6_000 + triggers.length * (GAP_MS + 1_000) + 12_000) / 200);
      const production = startProduction(kafka, topic, { slices, seed: 7171 });
      await sleep(6_000);
      const hits: KafkaCut[] = [];
      for (const trigger of triggers) {
        const hit = await Promise.race([proxy.arm(trigger), sleep(HIT_TIMEOUT_MS).then(() => undefined)]);
        proxy.disarm();
        // A miss means no partition commits any more: the rest would miss too.
        if (!hit) break;
        hits.push(hit);
        await sleep(GAP_MS);
      }
      const streamOutlastedCuts = production.state.producing;
      production.endAfter(TAIL_SLICES);
      const atLastCut = await status().catch(() => []);
      await production.done;

      const byKind = (key: number, at: string) =>
        hits.filter((h) => h.request.apiKey === key && h.at === at).length;
      const result = await verdict({
        scenario: 'commit failures (cut at EndTxn and TxnOffsetCommit)',
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          'cuts planned': triggers.length,
          'cuts that hit': hits.length,
          ...Object.fromEntries(
            [API_KEYS.EndTxn, API_KEYS.TxnOffsetCommit].flatMap((key) =>
              (['request', 'response'] as const).map((at) => [
                `cuts at ${NAMES[key]} (${at})`,
                byKind(key, at),
              ]),
            ),
          ),
          // The broker's transaction markers go to its advertised address too: through the proxy.
          'WriteTxnMarkers via the proxy': proxy.seen(27),
          ...commitNotes(sluice.output()),
        },
      });
      const atEnd = await status().catch(() => []);
      const context = sluice.output().slice(-3000);
      expectExact(result, sluice.output());
      expect(hits.length, 'cuts that hit (a jammed worker stops sending commits)').toBe(triggers.length);
      expect(streamOutlastedCuts).toBe(true);
      // Every partition kept committing after the last cut, on the same worker, up to its end.
      const ends = new Map((await topicEnds(kafka, topic)).map((p) => [p.partition, p.dataEnd?.toString()]));
      const before = new Map(atLastCut.map((p) => [p.partition, BigInt(p.committedOffset ?? -1)]));
      expect(atEnd.map((p) => p.partition).sort((a, b) => a - b)).toEqual([0, 1, 2]);
      for (const p of atEnd) {
        expect(BigInt(p.committedOffset ?? -1), `partition ${p.partition}`).toBeGreaterThan(
          before.get(p.partition) ?? -1n,
        );
        expect(p.committedOffset, `partition ${p.partition}`).toBe(ends.get(p.partition));
      }
      expect(sluice.child.exitCode, context).toBeNull();
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    // A failing run also waits out the verdict's deadlines (ClickHouse, then the committed offsets).
    FULL ? 900_000 : 420_000,
  );
});
