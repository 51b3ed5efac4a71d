// This member's consumer of the source topic in its consumer group: joins, hands fetched batches and
// group events to the runner, pauses and resumes partitions, commits offsets outside transactions
// (at-least-once), and leaves. Offsets are never committed by kafkajs itself: the runner's checkpoints
// decide when a record is done.
import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs';
import type { FetchedRecord } from './fetched-record.js';
import { isCoordinatorUnreachable, isNotRunning } from './kafka-errors.js';

/**
 * Restarts of the consumer after kafkajs gave up finding the group's coordinator, in a row (a join in
 * between starts the count again), each after this many ms times its number: about 36 s in all, after
 * kafkajs' own retries. Then the pipeline stops, for its supervisor to restart it.
 */
const COORDINATOR_RESTARTS = 8;
const COORDINATOR_RESTART_MS = 1_000;

export interface ConsumerSettings {
  groupId: string;
  topic: string;
  sessionTimeout: number;
  heartbeatInterval: number;
  fromBeginning: boolean;
}

/** Records of one partition from one fetch, in offset order. */
export interface FetchedBatch {
  partition: number;
  records: readonly FetchedRecord[];
  /** The partition's end (log-end offset) as the fetch saw it. */
  highWatermark: bigint;
  /** The batch's last offset including control records (transaction markers) after its last record. */
  lastOffset: bigint;
  /** False once the batch no longer counts: the consumer is stopping or the group rebalanced. */
  current(): boolean;
  /** The records up to this offset are taken: the next fetch of the partition starts after it. */
  resolve(offset: string): void;
  heartbeat(): Promise<void>;
}

export interface GroupHandlers {
  /**
   * This member's partitions of the topic after a (re)join, and its member id: a new id means the
   * group had dropped this member (evicted), so others may have owned its partitions meanwhile.
   */
  assigned(partitions: number[], memberId: string): void;
  /** The group is about to rebalance: partitions may move. */
  rebalancing(): void;
  /** A fetch came back (whether or not it held records). */
  fetched(): void;
  /**
   * A fetch held only transaction markers or aborted records, which never reach `batch`: the
   * partition is read up to `lastOffset`.
   */
  skipped(partition: number, lastOffset: bigint, highWatermark: bigint): void;
  /** kafkajs' consumer crashed; when `restarting` it restarts itself. */
  crashed(error: unknown, restarting: boolean): void;
  batch(batch: FetchedBatch): Promise<void>;
}

/**
 * Pause, resume and seek act on kafkajs' consumer group, which does not exist while kafkajs restarts its
 * consumer (after retries ran out, e.g. while the broker's connections were cut): kafkajs then throws.
 * Nothing is lost by skipping the call: the restarted consumer rejoins and starts from the committed
 * offsets (where a seek would have gone), and the member applies its pauses again on the new assignment.
 */
function whileRunning(call: () => void): void {
  try {
    call();
  } catch (error) {
    if (!isNotRunning(error)) throw error;
  }
}

export class GroupConsumer {
  private readonly consumer: Consumer;
  /** Restarts in a row after an unreachable coordinator, and the one waiting to happen. */
  private coordinatorRestarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    kafka: Kafka,
    private readonly settings: ConsumerSettings,
  ) {
    this.consumer = kafka.consumer({
      groupId: settings.groupId,
      sessionTimeout: settings.sessionTimeout,
      heartbeatInterval: settings.heartbeatInterval,
      // kafkajs sleeps this long when every partition is paused (restores, backpressure), and waits this
      // long for data: short, so a resumed partition and a stop are prompt.
      maxWaitTimeInMs: 500,
    });
  }

  /** Joins the group and starts fetching; resolves once running. */
  async start(handlers: GroupHandlers, partitionsConsumedConcurrently: number): Promise<void> {
    const { consumer, settings } = this;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.coordinatorRestarts = 0;
      handlers.assigned(payload.memberAssignment[settings.topic] ?? [], payload.memberId);
    });
    consumer.on(consumer.events.REBALANCING, () => handlers.rebalancing());
    consumer.on(consumer.events.FETCH, () => handlers.fetched());
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic !== settings.topic || payload.batchSize !== 0) return;
      handlers.skipped(payload.partition, BigInt(payload.lastOffset), BigInt(payload.highWatermark));
    });
    const config: ConsumerRunConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently,
      eachBatch: (payload) =>
        handlers.batch({
          partition: payload.batch.partition,
          records: payload.batch.messages,
          highWatermark: BigInt(payload.batch.highWatermark),
          lastOffset: BigInt(payload.batch.lastOffset()),
          current: () => payload.isRunning() && !payload.isStale(),
          resolve: (offset) => payload.resolveOffset(offset),
          heartbeat: () => payload.heartbeat(),
        }),
    };
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const restart = !payload.restart && this.restartsAfter(payload.error, config, handlers);
      handlers.crashed(payload.error, payload.restart || restart);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: settings.topic, fromBeginning: settings.fromBeginning });
    await consumer.run(config);
  }

  /**
   * After a crash kafkajs does not restart from: when no broker could name the group's coordinator (an
   * outage, not a fault of ours), runs the consumer again as kafkajs runs it after a retriable crash (it
   * has disconnected already; running again reconnects and rejoins). True when a restart is due.
   */
  private restartsAfter(error: unknown, config: ConsumerRunConfig, handlers: GroupHandlers): boolean {
    if (this.stopping || !isCoordinatorUnreachable(error)) return false;
    if (this.coordinatorRestarts >= COORDINATOR_RESTARTS) return false;
    this.coordinatorRestarts += 1;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.consumer.run(config).catch((failure: unknown) => handlers.crashed(failure, false));
    }, COORDINATOR_RESTART_MS * this.coordinatorRestarts);
    return true;
  }

  pause(partition: number): void {
    whileRunning(() => this.consumer.pause([{ topic: this.settings.topic, partitions: [partition] }]));
  }

  resume(partition: number): void {
    whileRunning(() => this.consumer.resume([{ topic: this.settings.topic, partitions: [partition] }]));
  }

  /**
   * The partition's next fetch starts at `offset` (records from there are fetched again); batches
   * fetched before count as stale until then.
   */
  seek(partition: number, offset: bigint): void {
    whileRunning(() =>
      this.consumer.seek({ topic: this.settings.topic, partition, offset: offset.toString() }),
    );
  }

  /** Commits the group's offset of the partition outside any transaction (at-least-once). */
  async commitOffset(partition: number, offset: bigint): Promise<void> {
    await this.consumer.commitOffsets([{ topic: this.settings.topic, partition, offset: offset.toString() }]);
  }

  /** Stops fetching and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    await this.consumer.stop().catch(() => undefined);
    await this.consumer.disconnect().catch(() => undefined);
  }
}
