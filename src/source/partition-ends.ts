// Samples where each partition of the source topic ends, every so often, through one admin client:
// the evidence that lets a partition count as idle (runtime/idle-evidence.ts). One sample is one
// ListOffsets per partition leader, for the whole topic, never two at once. A sample that fails (a
// leader out of reach, a partition without a leader) reports nothing, so no partition is confirmed
// quiet by it; the next sample starts with a fresh client, whose metadata knows the current leaders.
import type { Admin, Kafka } from 'kafkajs';
import { messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';

/** The ends a sample learnt (next offset to be written, per partition), and when it was sent. */
export type EndsSampled = (ends: ReadonlyMap<number, bigint>, sentAtMs: number) => void;

export class PartitionEnds {
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly everyMs: number,
    private readonly sampled: EndsSampled,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sampleUnlessBusy(), this.everyMs);
    this.sampleUnlessBusy();
  }

  /** Does not wait for a sample in flight: one waiting for a frozen broker must not hold a shutdown up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  /** A sample still waiting for a leader that does not answer holds the next ones back. */
  private sampleUnlessBusy(): void {
    if (this.sampling || this.stopped) return;
    this.sampling = this.sample().finally(() => (this.sampling = undefined));
  }

  private async sample(): Promise<void> {
    const sentAtMs = Date.now();
    try {
      if (!this.admin) {
        // No retries: a leader that does not answer now is the answer, and the next sample asks again.
        const admin = this.kafka.admin({ retry: { retries: 0 } });
        this.admin = admin;
        await admin.connect();
      }
      const offsets = await this.admin.fetchTopicOffsets(this.topic);
      if (!this.stopped) this.sampled(new Map(offsets.map((p) => [p.partition, BigInt(p.high)])), sentAtMs);
    } catch (error) {
      this.logger.debug(
        { topic: this.topic, err: messageOf(error) },
        'partition ends not fetched; no partition counts as idle on this sample',
      );
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
    }
  }
}
