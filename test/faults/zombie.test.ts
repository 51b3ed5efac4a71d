// Fault scenario: a zombie member. Two workers share the stream; worker A is stopped with SIGSTOP for
// longer than its session timeout (6 s), as a long GC pause or a network cut would: the group evicts
// it and worker B takes A's partitions over, fencing A's transactional producers, restoring their state
// and committing. Then A is continued: it wakes up believing it still owns its partitions, its next
// commits are fenced, it rejoins the group and may be given partitions back. The stream holds still
// for a moment before the stop, until A has committed all it read: A then wakes with nothing to
// commit, so the first it hears of B is its rejoin, which may hand it its old partitions back as if
// it had kept them (the hard case: not a fenced commit before the rejoin, but after it). Every window must be
// exact, the group's committed offsets must reach the topic's end, and A must be committing again on
// whatever it holds, without a restart.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { freePorts } from '../../src/tools/stack/ports.js';
import type { PartitionStatus } from '../../src/runtime/member-status.js';
import { waitFor } from '../integration/support/fixtures.js';
import { endOffsets } from '../integration/support/pipeline-truth.js';
import { useTestServices } from '../integration/support/services.js';
import { writeConfig } from '../integration/support/sluice-process.js';
import { commitNotes } from './commit-log.js';
import { topicEnds } from './committed-offsets.js';
import {
  MemoryWatch,
  PARTITIONS,
  expectExact,
  faultPipeline,
  scenarioPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';
import { partitionStatus } from './worker-status.js';

/** Past the pipeline's sessionTimeout (6 s), so the group evicts A while it is stopped. */
const STOP_MS = FULL ? 20_000 : 10_000;

const committed = (partitions: readonly PartitionStatus[]) =>
  new Map(partitions.map((p) => [p.partition, BigInt(p.committedOffset ?? -1)]));

describe('fault scenario: zombie member', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it(
    `stays exact when a member is stopped ${STOP_MS / 1000} s (past its session) and comes back`,
    async () => {
      const [portA, portB] = await freePorts(2);
      const brokers = inject('kafkaBrokers');
      const clickhouseUrl = inject('clickhouseUrl');
      const { name, groupId, topic, database, config } = await scenarioPipeline(kafka, 'zombie', {
        brokers,
        clickhouseUrl,
        httpPort: portA,
      });
      const configB = writeConfig(
        faultPipeline({ name, topic, database, brokers, clickhouseUrl, httpPort: portB }),
      );
      const memory = new MemoryWatch();
      const statusA = () => partitionStatus(portA!);
      const statusB = () => partitionStatus(portB!);

      const a = services.start(['run', '--config', config]);
      memory.watch(a.child.pid);
      await waitFor('worker A to own every partition', statusA, (s) => s.length === PARTITIONS);
      const b = services.start(['run', '--config', configB]);
      memory.watch(b.child.pid);
      await waitFor(
        'A and B to share the partitions',
        () => Promise.all([statusA(), statusB()]),
        ([sa, sb]) => sa.length > 0 && sb.length > 0 && sa.length + sb.length === PARTITIONS,
      );

      // About 8 s of stream before the stop, the stop, and some 20 s after A is continued.
      let quiet = false;
      const production = startProduction(kafka, topic, {
        slices: Math.ceil((8_000 + STOP_MS + 20_000) / 200),
        seed: 9191,
        hold: () => quiet,
      });
      await sleep(8_000);
      quiet = true;
      const ends = () => endOffsets(production.state.produced);
      const aBefore = await waitFor(
        'A to commit everything it read (the stream holding still)',
        statusA,
        (s) => s.every((p) => p.committedOffset === ends()[p.partition]),
        4_000,
      ).catch(statusA);
      const aQuiet = aBefore.every((p) => p.committedOffset === ends()[p.partition]);
      const stoppedAt = Date.now();
      a.child.kill('SIGSTOP');
      quiet = false;
      // B takes A's partitions over (restored from A's last commit), then commits them further.
      const takeover = await waitFor(
        "B to own A's partitions while A is stopped",
        statusB,
        (s) => s.length === PARTITIONS,
        STOP_MS + 30_000,
      )
        .then((restored) =>
          waitFor(
            "B to commit A's partitions",
            statusB,
            (s) => {
              const now = committed(s);
              return aBefore.every((p) => now.get(p.partition)! > committed(restored).get(p.partition)!);
            },
            15_000,
          ),
        )
        .catch(() => undefined);
      const takeoverMs = Date.now() - stoppedAt;
      await sleep(Math.max(0, STOP_MS - takeoverMs));
      a.child.kill('SIGCONT');
      const continuedAt = Date.now();
      expect(production.state.producing).toBe(true);

      // A comes back (a zombie: its /status still lists what it had), is fenced or rejoins, and must end
      // up with partitions of its own (none of B's) that it commits.
      const aAfterRejoin = await waitFor(
        'A to own partitions again, apart from B, and commit them',
        () => Promise.all([statusA(), statusB()]),
        ([sa, sb]) =>
          sa.length > 0 &&
          sa.length + sb.length === PARTITIONS &&
          !sa.some((p) => sb.some((q) => q.partition === p.partition)) &&
          sa.every((p) => p.committedOffset !== null),
        30_000,
      )
        .then(([sa]) => sa)
        .catch(() => []);
      await production.done;
      const [aOwned, bOwned] = await Promise.all([statusA().catch(() => []), statusB().catch(() => [])]);

      const result = await verdict({
        scenario: `zombie member (stopped ${STOP_MS / 1000} s, session 6 s)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          "A's partitions before the stop": aBefore.map((p) => p.partition).join(' '),
          'A had committed all it read when stopped': aQuiet ? 'yes' : 'no',
          "B took A's partitions over and committed (ms)": takeover ? takeoverMs : 'no',
          "A's partitions after it came back": aAfterRejoin.map((p) => p.partition).join(' ') || 'none',
          "A's partitions when the stream ended": aOwned.map((p) => p.partition).join(' ') || 'none',
          "B's partitions when the stream ended": bOwned.map((p) => p.partition).join(' ') || 'none',
          'A continued to end of stream (s)': Math.round((Date.now() - continuedAt) / 1000),
          ...Object.fromEntries(Object.entries(commitNotes(a.output())).map(([k, v]) => [`A: ${k}`, v])),
        },
      });
      const [aEnd, bEnd] = await Promise.all([statusA().catch(() => []), statusB().catch(() => [])]);
      const context = `A:\n${a.output().slice(-2500)}\nB:\n${b.output().slice(-1500)}`;
      expectExact(result, context);
      expect(takeover, "B committing A's partitions while A was stopped").toBeDefined();
      // Both members run on, between them own every partition, and each has committed it to its end.
      const dataEnds = new Map(
        (await topicEnds(kafka, topic)).map((p) => [p.partition, p.dataEnd?.toString()]),
      );
      expect(aEnd.length, "A's partitions at the end").toBeGreaterThan(0);
      expect([...aEnd, ...bEnd].map((p) => p.partition).sort((x, y) => x - y)).toEqual([0, 1, 2]);
      for (const p of [...aEnd, ...bEnd])
        expect(p.committedOffset, `partition ${p.partition}`).toBe(dataEnds.get(p.partition));
      expect(a.child.exitCode, context).toBeNull();
      expect(b.child.exitCode, context).toBeNull();
      expect(await a.stop('SIGTERM')).toBe(0);
      expect(await b.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
