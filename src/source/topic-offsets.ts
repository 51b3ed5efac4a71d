// A topic's partition offsets (low and high) as the admin client reports them, retried while the
// cluster settles. kafkajs' fetchTopicOffsets gives up at once on NOT_LEADER_FOR_PARTITION and
// LEADER_NOT_AVAILABLE, which a freshly created topic (or a broker electing leaders after a restart)
// answers for a moment: a worker starting then must wait, not crash.
import type { Admin } from 'kafkajs';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';

export type PartitionOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;

/** Kafka marks transient protocol errors retriable; kafkajs' KafkaJSNumberOfRetriesExceeded wraps them. */
function isRetriable(error: Error): boolean {
  const e = error as { retriable?: boolean; originalError?: { retriable?: boolean } };
  return e.retriable === true || e.originalError?.retriable === true;
}

const settling = retry(handleWhen(isRetriable), {
  maxAttempts: 20,
  backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }),
});

export function topicOffsets(admin: Admin, topic: string): Promise<PartitionOffsets> {
  return settling.execute(() => admin.fetchTopicOffsets(topic));
}
