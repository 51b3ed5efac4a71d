// The topics a pipeline writes besides its sinks, named from its config, and the records it writes
// there: dead letters (a stage failed for good), overflow (shed by `reject`), late events (their window
// had closed). Each write resolves once the broker has the record.
import type { Pipeline } from '../config/schema.js';
import { deadLetterMessage, sinkDeadLetterMessage } from '../sinks/dead-letters.js';
import { outputTopics } from '../sinks/kafka-sink.js';
import type { ResultRow } from '../sinks/result-row.js';
import type { SideTopic, SideTopicWriter } from '../sinks/side-topic-writer.js';
import type { LateEvent } from './partition-worker.js';
import type { Origin, StageFailure } from './stage-chain.js';

export function deadLetterTopicOf(pipeline: Pipeline): string {
  return pipeline.deadLetter.topic ?? `${pipeline.source.topic}.dlq`;
}

export function overflowTopicOf(pipeline: Pipeline): string {
  return pipeline.backpressure.overflowTopic ?? `${pipeline.source.topic}.overflow`;
}

export function lateTopicOf(pipeline: Pipeline): string {
  return pipeline.lateEvents.topic ?? `${pipeline.source.topic}.late`;
}

export function changelogTopicOf(pipeline: Pipeline): string {
  return pipeline.state.changelogTopic ?? `sluice-${pipeline.name}-changelog`;
}

/** Every topic the pipeline writes to, with as many partitions as the source. */
export function pipelineTopics(pipeline: Pipeline, partitions: number): SideTopic[] {
  const retentionMs = pipeline.deadLetter.retention;
  const topics: SideTopic[] = [
    { topic: deadLetterTopicOf(pipeline), partitions, retentionMs },
    { topic: lateTopicOf(pipeline), partitions, retentionMs },
    { topic: changelogTopicOf(pipeline), partitions },
  ];
  for (const topic of outputTopics(pipeline)) topics.push({ topic, partitions, brokerDefaults: true });
  if (pipeline.backpressure.strategy === 'reject')
    topics.push({ topic: overflowTopicOf(pipeline), partitions, retentionMs });
  return topics;
}

export class SideOutputs {
  constructor(
    private readonly pipeline: Pipeline,
    private readonly writer: SideTopicWriter,
  ) {}

  deadLetter(partition: number, failure: StageFailure): Promise<void> {
    const message = deadLetterMessage(failure.origin.raw, {
      ...this.context(partition),
      stage: failure.stage,
      reason: 'stage-error',
      error: failure.error,
      attempts: failure.attempts,
    });
    return this.writer.write(deadLetterTopicOf(this.pipeline), message);
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
        return this.writer.write(deadLetterTopicOf(this.pipeline), message);
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
    return this.writer.write(overflowTopicOf(this.pipeline), message);
  }

  late(partition: number, event: LateEvent): Promise<void> {
    const message = deadLetterMessage(event.origin.raw, {
      ...this.context(partition),
      stage: 'window',
      reason: 'late',
      attempts: 0,
      extra: {
        'sluice.late.windows': event.late.map((l) => l.definition).join(','),
        'sluice.late.by.ms': String(Math.max(...event.late.map((l) => l.byMs))),
        'sluice.event.time': new Date(event.eventTimeMs).toISOString(),
      },
    });
    return this.writer.write(lateTopicOf(this.pipeline), message);
  }

  private context(partition: number) {
    return {
      pipeline: this.pipeline.name,
      topic: this.pipeline.source.topic,
      partition,
      failedAtMs: Date.now(),
    };
  }
}
