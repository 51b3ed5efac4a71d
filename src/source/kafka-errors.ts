// What a kafkajs failure means for Sluice, decided from the client's error classes and the Kafka
// protocol error `type` they carry, never from message text (one kafkajs state-machine error is the
// exception, below). kafkajs nests the error that ended its retries as `cause`
// (KafkaJSNumberOfRetriesExceeded) and bundles per-topic errors in KafkaJSAggregateError: both are
// looked through.
import kafkajs from 'kafkajs';

// kafkajs spreads its error classes into its exports, which Node cannot see as named ESM exports.
const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} = kafkajs;

/**
 * Protocol errors that say a newer producer owns our transactional id, or that we may no longer use it:
 * this member must drop the partition. Kafka 2.7+ answers PRODUCER_FENCED only to request versions
 * newer than kafkajs speaks (older ones get INVALID_PRODUCER_EPOCH); it is listed for completeness.
 */
const FENCED_TYPES = new Set([
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_EPOCH',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'TRANSACTION_COORDINATOR_FENCED',
]);
/** PRODUCER_FENCED's protocol code, which kafkajs 2.2 does not know by name. */
const PRODUCER_FENCED_CODE = 90;

/** The error and those it wraps: kafkajs' `cause` chain and the members of an aggregate. */
function* errorsIn(error: unknown, depth = 0): Generator<unknown> {
  if (error === undefined || error === null || depth > 8) return;
  yield error;
  if (error instanceof KafkaJSAggregateError)
    for (const member of error.errors) yield* errorsIn(member, depth + 1);
  yield* errorsIn((error as { cause?: unknown }).cause, depth + 1);
}

function protocolTypes(error: unknown): string[] {
  const types: string[] = [];
  for (const e of errorsIn(error)) if (e instanceof KafkaJSProtocolError) types.push(e.type);
  return types;
}

/**
 * kafkajs 2.2 has no name for codes newer than its table: it reports them as KAFKAJS_UNKNOWN_ERROR_CODE
 * with code -99, and only its message ("Unknown error code 90") keeps the broker's code.
 */
function unknownProtocolCode(error: InstanceType<typeof KafkaJSProtocolError>): number | undefined {
  if (error.type !== 'KAFKAJS_UNKNOWN_ERROR_CODE') return undefined;
  const match = /^Unknown error code (\d+)$/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}

/** A producer fenced by a newer owner of its transactional id: this member must drop the partition. */
export function isFenced(error: unknown): boolean {
  for (const e of errorsIn(error)) {
    if (!(e instanceof KafkaJSProtocolError)) continue;
    if (FENCED_TYPES.has(e.type) || unknownProtocolCode(e) === PRODUCER_FENCED_CODE) return true;
  }
  return false;
}

/**
 * kafkajs' producer refuses to begin a transaction while its state machine still holds the previous
 * one (it ends asynchronously right after a commit). It says so with a bare KafkaJSNonRetriableError,
 * no type or code: its message is the only thing that tells it from other misuse. The text is kafkajs
 * 2.2's (src/producer/index.js).
 */
const ONGOING_TRANSACTION = 'There is already an ongoing transaction for this producer';

/**
 * The transaction is still busy with a previous operation: the broker's CONCURRENT_TRANSACTIONS (an
 * EndTxn still completing), or kafkajs' own state machine right after a commit. A short wait clears it.
 */
export function isTransactionBusy(error: unknown): boolean {
  if (protocolTypes(error).includes('CONCURRENT_TRANSACTIONS')) return true;
  for (const e of errorsIn(error))
    if (e instanceof KafkaJSNonRetriableError && e.message.startsWith(ONGOING_TRANSACTION)) return true;
  return false;
}

/**
 * kafkajs' consumer has no group right now (it is restarting after its retries ran out): pause, resume
 * and seek throw this bare KafkaJSNonRetriableError. Told apart by its text, kafkajs 2.2's
 * (src/consumer/index.js), as there is nothing else to tell it by.
 */
export function isNotRunning(error: unknown): boolean {
  for (const e of errorsIn(error))
    if (e instanceof KafkaJSNonRetriableError && e.message.startsWith(NOT_RUNNING)) return true;
  return false;
}

const NOT_RUNNING = 'Consumer group was not initialized';

/** The broker refused our SASL credentials (the handshake, or SASL_AUTHENTICATION_FAILED). */
export function isAuthentication(error: unknown): boolean {
  for (const e of errorsIn(error)) if (e instanceof KafkaJSSASLAuthenticationError) return true;
  return protocolTypes(error).includes('SASL_AUTHENTICATION_FAILED');
}

/**
 * Node's codes for a TLS peer certificate that cannot be verified against the trusted CAs (kafkajs
 * hands the socket error on as the `cause` of its KafkaJSConnectionError).
 */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** TLS failed because the broker's certificate is not trusted (a private CA, a self-signed one). */
export function isTls(error: unknown): boolean {
  for (const e of errorsIn(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return true;
  }
  return false;
}

/**
 * Worth trying again: kafkajs marks every error `retriable` (protocol errors from Kafka's own table,
 * connection errors always); the error that ended kafkajs' retries is judged by what it wraps.
 */
export function isRetriable(error: unknown): boolean {
  if (isFenced(error) || isAuthentication(error) || isTls(error)) return false;
  if (isTransactionBusy(error)) return true;
  for (const e of errorsIn(error)) {
    if (e instanceof KafkaJSConnectionError) return true;
    if (e instanceof KafkaJSError && e.retriable) return true;
  }
  return false;
}

/**
 * kafkajs asked every broker it knows for the group's coordinator and none answered: the cluster was
 * unreachable at that moment (a broker restarting, say). kafkajs calls this non-retriable, so its
 * consumer crashes for good; for Sluice it is an outage like any other, worth a restart.
 */
export function isCoordinatorUnreachable(error: unknown): boolean {
  for (const e of errorsIn(error)) if (e instanceof KafkaJSGroupCoordinatorNotFound) return true;
  return false;
}

/** Protocol errors about the records themselves: sending the same records again cannot succeed. */
const RECORD_REJECTED_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
]);

/** The broker refused the records themselves (too large, invalid): dead-letter them rather than retry. */
export function isRecordRejected(error: unknown): boolean {
  return protocolTypes(error).some((type) => RECORD_REJECTED_TYPES.has(type));
}

/** Topic creation found the topic there already (another worker made it in between). */
export function isTopicAlreadyExists(error: unknown): boolean {
  if (error instanceof KafkaJSAggregateError)
    return error.errors.length > 0 && error.errors.every((e) => isTopicAlreadyExists(e));
  return protocolTypes(error).includes('TOPIC_ALREADY_EXISTS');
}
