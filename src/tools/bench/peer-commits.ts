// The JVM peers' finish line: their consumer group's committed offsets at the end offsets of every
// partition of the input (and of the peer's own repartition topics, for Kafka Streams). A peer under
// exactly-once commits an offset only with the state and outputs of the records before it (Kafka
// Streams in its transaction, Flink on a completed checkpoint), so that moment is every record counted,
// its window state durable and its outputs committed: the same kind of moment Sluice's runs end at.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { createLogger } from '../../ops/logger.js';
import { topicOffsets } from '../../source/cluster-settling.js';
import { createKafka } from '../../source/kafka-client.js';
import type { BenchProcess } from './bench-process.js';

/** Time a peer may go without committing anything new before the run is declared stuck. */
const STALL_MS = 60_000;
const POLL_MS = 100;

interface CommitProgress {
  /** The sum of every committed offset: it grows with each commit, so a still one means a stall. */
  reached: bigint;
  /** The input topic's records, and how many of them are committed. */
  inputCommitted: bigint;
  inputRecords: bigint;
  /** Committed at the end offset on every partition of the input and the repartition topics. */
  done: boolean;
}

/** The group's committed offsets against the end offsets of `input` and its `repartitions`. */
async function commitProgress(
  admin: Admin,
  groupId: string,
  input: string,
  repartitions: readonly string[],
): Promise<CommitProgress> {
  const committed = await admin.fetchOffsets({ groupId, topics: [input, ...repartitions] });
  const progress: CommitProgress = { reached: 0n, inputCommitted: 0n, inputRecords: 0n, done: true };
  for (const topic of [input, ...repartitions]) {
    const offsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const end of await topicOffsets(admin, topic)) {
      // -1: nothing committed yet.
      const at = BigInt(offsets.find((o) => o.partition === end.partition)?.offset ?? '-1');
      const [low, high] = [BigInt(end.low), BigInt(end.high)];
      if (at > 0n) progress.reached += at;
      progress.done &&= at >= high || high === low;
      if (topic !== input) continue;
      progress.inputRecords += high - low;
      if (at > low) progress.inputCommitted += at - low;
    }
  }
  return progress;
}

export interface CommitWatch {
  /** The peer, for messages (`kafka streams`, `flink`). */
  name: string;
  groupId: string;
  input: string;
  repartitions: readonly string[];
  /** When the peer's run started (epoch ms), for progress lines. */
  startedAtMs: number;
  log: (line: string) => void;
}

/** Polls until the group has committed every record; returns when it saw that (epoch ms). */
export async function waitUntilAllCommitted(
  admin: Admin,
  jvm: BenchProcess,
  watch: CommitWatch,
): Promise<number> {
  const topics = [watch.input, ...watch.repartitions].join(', ');
  let exited: string | undefined;
  void jvm.exited.then((how) => (exited = how));
  let last = -1n;
  let progressAt = Date.now();
  let loggedAt = Date.now();
  for (;;) {
    if (exited !== undefined) throw jvm.failure(`exited (${exited}) before committing every record`);
    const progress = await commitProgress(admin, watch.groupId, watch.input, watch.repartitions);
    if (progress.done) return Date.now();
    if (progress.reached !== last) [last, progressAt] = [progress.reached, Date.now()];
    const seen = `${progress.inputCommitted} of ${progress.inputRecords} input records committed`;
    if (Date.now() - progressAt > STALL_MS) {
      throw jvm.failure(`committed nothing new on ${topics} for ${STALL_MS / 1000}s (${seen})`);
    }
    if (Date.now() - loggedAt > 5_000) {
      loggedAt = Date.now();
      const after = Math.round((Date.now() - watch.startedAtMs) / 1000);
      watch.log(`  ${watch.name}: ${seen}, ${after} s after RUNNING`);
    }
    await sleep(POLL_MS);
  }
}

export async function withAdmin<T>(
  brokers: readonly string[],
  use: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = createKafka(brokers, 'sluice-bench-peers', createLogger('error')).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}
