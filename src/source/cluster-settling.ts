// Admin calls retried while the cluster settles. kafkajs gives up at once on errors Kafka marks
// retriable (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION while a new
// topic's metadata spreads), which a freshly created topic or a broker electing leaders answers for a
// moment: a worker starting then must wait, not crash.
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

/** Runs `call` again (with backoff) while it fails with an error Kafka marks retriable. */
export function whileSettling<T>(call: () => Promise<T>): Promise<T> {
  return settling.execute(call);
}

/** A topic's partition offsets (low and high), retried while the cluster settles. */
export function topicOffsets(admin: Admin, topic: string): Promise<PartitionOffsets> {
  return whileSettling(() => admin.fetchTopicOffsets(topic));
}
