// The topics a pipeline writes besides its sinks, named from its config, and the records it writes
// there: dead letters (a stage failed for good, a window's key cap dropped the event, a sink gave up on
// a row), overflow (shed by `reject`), late events (their window had closed). At-least-once: each
// write resolves once the broker has the record. Exactly-once: a partition's records go in its next
// commit transaction, so an attempt that never commits leaves none behind (dead letters of sink rows
// excepted: they come from results, not from records, and are written at once).
import type { PipelineTopics } from '../config/pipeline-topics.js';
import { deadLetterMessage, sinkDeadLetterMessage } from '../sinks/dead-letters.js';
import type { ResultRow } from '../sinks/result-row.js';
import type { OutgoingRecord } from '../source/outgoing-record.js';
import type { SideTopicWriter } from '../source/side-topic-writer.js';
import type { TransactionOutbox } from '../source/transaction-outbox.js';
import { KEY_CAP_HEADERS, LATE_HEADERS } from '../sinks/dead-letters.js';
import { windowRefOf } from '../windows/key-cap.js';
import type { Lateness } from '../windows/partition-windows.js';
import type { KeyCappedEvent, LateEvent } from './partition-worker.js';
import type { Origin, StageFailure } from './stage-chain.js';

/** The windows a late event missed, `name@start` each (sessions have none): what `sluice late replay` reads. */
function lateWindowRefs(late: readonly Lateness[]): string {
  return late
    .flatMap((l) =>
      (l.windowStarts ?? []).map((start) => windowRefOf({ definition: l.definition, windowStart: start })),
    )
    .join(',');
}

export class SideOutputs {
  constructor(
    private readonly pipeline: string,
    private readonly topics: PipelineTopics,
    private readonly writer: SideTopicWriter,
    /**
     * Exactly-once: a partition's records wait here for its commit transaction (the record they come
     * from completes at once: the transaction that commits its offset carries them).
     */
    private readonly outbox?: TransactionOutbox,
  ) {}

  private send(partition: number, topic: string, record: OutgoingRecord): Promise<void> {
    if (!this.outbox) return this.writer.write(topic, record);
    this.outbox.add(partition, topic, record);
    return Promise.resolve();
  }

  deadLetter(partition: number, failure: StageFailure): Promise<void> {
    const message = deadLetterMessage(failure.origin.raw, {
      ...this.context(partition),
      stage: failure.stage,
      reason: 'stage-error',
      error: failure.error,
      attempts: failure.attempts,
    });
    return this.send(partition, this.topics.deadLetter, message);
  }

  /** Rows a sink refused (or gave up on), each naming its source partition in the headers. */
  async sinkRows(
    sink: string,
    rows: readonly ResultRow[],
    group: string,
    error: unknown,
    reason: 'rejected' | 'exhausted',
  ): Promise<void> {
    await Promise.all(
      rows.map((row) => {
        const partition = Number(row.source_partition ?? 0);
        const message = sinkDeadLetterMessage(row, {
          ...this.context(partition),
          reason: reason === 'rejected' ? 'sink-rejected' : 'sink-exhausted',
          error,
          sink,
          group,
        });
        return this.writer.write(this.topics.deadLetter, message);
      }),
    );
  }

  overflow(partition: number, origin: Origin): Promise<void> {
    const message = deadLetterMessage(origin.raw, {
      ...this.context(partition),
      stage: 'buffer',
      reason: 'overflow',
      attempts: 0,
    });
    return this.send(partition, this.topics.overflow, message);
  }

  late(partition: number, event: LateEvent): Promise<void> {
    const message = deadLetterMessage(event.origin.raw, {
      ...this.context(partition),
      stage: 'window',
      reason: 'late',
      attempts: 0,
      extra: {
        [LATE_HEADERS.windows]: event.late.map((l) => l.definition).join(','),
        [LATE_HEADERS.byMs]: String(Math.max(...event.late.map((l) => l.byMs))),
        [LATE_HEADERS.windowRefs]: lateWindowRefs(event.late),
        [LATE_HEADERS.eventTime]: new Date(event.eventTimeMs).toISOString(),
      },
    });
    return this.send(partition, this.topics.late, message);
  }

  /**
   * An event the key cap dropped from window(s): a dead letter (not a late event), as raising `maxKeys`
   * is a fix after which `sluice dlq replay` brings it back into just those windows.
   */
  keyCapped(partition: number, event: KeyCappedEvent): Promise<void> {
    const caps = new Map(event.dropped.map((d) => [d.definition, d.maxKeys]));
    const message = deadLetterMessage(event.origin.raw, {
      ...this.context(partition),
      stage: 'window',
      reason: 'key-cap',
      attempts: 0,
      extra: {
        [KEY_CAP_HEADERS.windows]: event.dropped.map(windowRefOf).join(','),
        [KEY_CAP_HEADERS.maxKeys]: [...caps].map(([name, max]) => `${name}=${max}`).join(','),
        'sluice.event.time': new Date(event.eventTimeMs).toISOString(),
      },
    });
    return this.send(partition, this.topics.deadLetter, message);
  }

  private context(partition: number) {
    return {
      pipeline: this.pipeline,
      topic: this.topics.source,
      partition,
      failedAtMs: Date.now(),
    };
  }
}
