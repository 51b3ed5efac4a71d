// The level a kafkajs log entry gets in Sluice's log. kafkajs logs at ERROR every broker answer that
// carries an error and every retry it makes, although it (or Sluice) recovers from most: a coordinator
// moving, a leader election, a rebalance. Those go to debug, and to warn (with kafkajs' context) once
// they repeat; error is kept for what nobody retries. Pure: the caller passes the entry.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type SluiceLogLevel = 'error' | 'warn' | 'info' | 'debug';

/** kafkajs' levels (its logLevel enum). */
const KAFKAJS_ERROR = 1;
const KAFKAJS_WARN = 2;

export interface KafkajsLogEntry {
  /** kafkajs' level: 1 error, 2 warn, 4 info, 5 debug. */
  level: number;
  /** The kafkajs component: Connection, Consumer, Runner, BrokerPool, Producer, … */
  namespace: string;
  message: string;
  /** What kafkajs logged with it: `error` (a message), `retryCount`, `broker`, `groupId`, … */
  fields: Readonly<Record<string, unknown>>;
}

interface ProtocolErrorCode {
  type: string;
  retriable: boolean;
  message: string;
}

/** kafkajs' table of Kafka protocol errors: its messages are what its log entries carry. */
const PROTOCOL_ERRORS = (require('kafkajs/src/protocol/error.js') as { errorCodes: ProtocolErrorCode[] })
  .errorCodes;

/**
 * Protocol errors Kafka calls not retriable that kafkajs or Sluice still recover from on their own:
 * the consumer re-joins its group, Sluice drops a fenced partition (and a later assignment re-opens
 * it), or treats a topic another worker created first as created.
 */
const RECOVERED_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'MEMBER_ID_REQUIRED',
  'INVALID_PRODUCER_EPOCH',
  'TOPIC_ALREADY_EXISTS',
]);

/** kafkajs' own messages for a connection that failed or a request that timed out: always retried. */
const TRANSIENT_TEXTS = [
  'Connection error',
  'Connection timeout',
  'Closed connection',
  'Connection closed by the server',
  'Failed to connect',
  'Not connected',
  'timed out',
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  // No broker answered the coordinator lookup: the consumer restarts (group-consumer.ts).
  'KafkaJSGroupCoordinatorNotFound',
];

/** Retries after which a transient error is worth a warning: the cluster is not just settling. */
export const REPEATS_BEFORE_WARN = 3;

/** The entry's text: its message and the error it carries. */
function textOf(entry: KafkajsLogEntry): string {
  const error = entry.fields.error;
  const detail =
    error instanceof Error ? `${error.name}: ${error.message}` : typeof error === 'string' ? error : '';
  return `${entry.message} ${detail}`;
}

/** Whether the entry is about an error that is retried or recovered from (true), or not (false). */
export function isRecoverable(entry: KafkajsLogEntry): boolean {
  const text = textOf(entry);
  if (TRANSIENT_TEXTS.some((t) => text.includes(t))) return true;
  return PROTOCOL_ERRORS.some(
    (e) => (e.retriable || RECOVERED_TYPES.has(e.type)) && text.includes(e.message),
  );
}

export function sluiceLevelOf(entry: KafkajsLogEntry): SluiceLogLevel {
  if (entry.level > KAFKAJS_WARN) return 'debug';
  // A consumer that crashed on a retriable error and restarts (the group re-joins): an event operators
  // want to see, not an error; a crash that does not restart stops the pipeline, which Sluice reports.
  if (entry.namespace === 'Consumer' && /^(Crash|Restarting the consumer)/.test(entry.message))
    return entry.message.startsWith('Restarting') || isRecoverable(entry) ? 'warn' : 'error';
  if (isRecoverable(entry)) {
    const retries = entry.fields.retryCount;
    return typeof retries === 'number' && retries >= REPEATS_BEFORE_WARN ? 'warn' : 'debug';
  }
  return entry.level === KAFKAJS_ERROR ? 'error' : 'warn';
}
