// The Kafka classifier against real kafkajs errors: protocol errors made by kafkajs' own code table
// (createErrorFromCode, as its response decoders make them), wrapped as its retrier and connection code
// wrap them. No broker: only the client's error classes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  isCoordinatorUnreachable,
  isNotRunning,
  isAuthentication,
  isFenced,
  isRecordRejected,
  isRetriable,
  isTls,
  isTopicAlreadyExists,
  isTransactionBusy,
} from '../../../src/source/kafka-errors.js';

// As Sluice imports them: kafkajs spreads its error classes into its exports, which Node's ESM cannot name.
const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} = kafkajs;
type ProtocolError = InstanceType<typeof KafkaJSProtocolError>;
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => ProtocolError;
};
// Exported by kafkajs at run time, missing from its type declarations.
const { KafkaJSCreateTopicError } = require('kafkajs') as {
  KafkaJSCreateTopicError: new (e: ProtocolError, topic: string) => ProtocolError;
};
const SaslError = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

/** As kafkajs' retrier reports an error it gave up retrying. */
function retriesExceeded(error: Error): Error {
  return new KafkaJSNumberOfRetriesExceeded(error, { retryCount: 5, retryTime: 1_000 });
}

/** As kafkajs' retrier reports an error it would not retry (bail or a non-retriable one). */
function notRetried(error: Error): Error {
  const Wrapper = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error;
  return new Wrapper(error, { cause: error });
}

const INVALID_PRODUCER_EPOCH = 47;
const CONCURRENT_TRANSACTIONS = 51;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53;
const SASL_AUTHENTICATION_FAILED = 58;
const TOPIC_ALREADY_EXISTS = 36;
const MESSAGE_TOO_LARGE = 10;
const NOT_LEADER_FOR_PARTITION = 6;
const FENCED_LEADER_EPOCH = 74;
const PRODUCER_FENCED = 90;

describe('Kafka error classification', () => {
  it('knows fencing by protocol type, also behind kafkajs wrappers and for codes kafkajs cannot name', () => {
    for (const code of [INVALID_PRODUCER_EPOCH, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, PRODUCER_FENCED]) {
      const error = createErrorFromCode(code);
      expect(error).toBeInstanceOf(KafkaJSProtocolError);
      expect(isFenced(error), error.type).toBe(true);
      expect(isFenced(notRetried(error))).toBe(true);
      expect(isRetriable(error)).toBe(false);
    }
    expect(createErrorFromCode(PRODUCER_FENCED).type).toBe('KAFKAJS_UNKNOWN_ERROR_CODE');
    // A stale partition leader is not a fenced producer, although its type says FENCED.
    expect(isFenced(createErrorFromCode(FENCED_LEADER_EPOCH))).toBe(false);
    expect(isFenced(createErrorFromCode(CONCURRENT_TRANSACTIONS))).toBe(false);
    expect(isFenced(new KafkaJSNonRetriableError('the producer was fenced'))).toBe(false);
    expect(isFenced(new Error('INVALID_PRODUCER_EPOCH'))).toBe(false);
    expect(isFenced(undefined)).toBe(false);
  });

  it("knows a busy transaction: the broker's CONCURRENT_TRANSACTIONS and kafkajs' own ongoing transaction", () => {
    const concurrent = createErrorFromCode(CONCURRENT_TRANSACTIONS);
    expect(isTransactionBusy(concurrent)).toBe(true);
    expect(isTransactionBusy(retriesExceeded(concurrent))).toBe(true);
    expect(isRetriable(concurrent)).toBe(true);

    // The text kafkajs' producer throws, read from its source so a kafkajs upgrade that rewords it fails here.
    const source = readFileSync(require.resolve('kafkajs/src/producer/index.js'), 'utf8');
    const text = /'(There is already an ongoing transaction[^']*)'/.exec(source)?.[1];
    expect(text).toBeDefined();
    const ongoing = new KafkaJSNonRetriableError(text!);
    expect(isTransactionBusy(ongoing)).toBe(true);
    expect(isRetriable(ongoing)).toBe(true);

    const stateMachine = new KafkaJSNonRetriableError(
      'Transaction state exception: Cannot call "send" in state "READY"',
    );
    expect(isTransactionBusy(stateMachine)).toBe(false);
    expect(isTransactionBusy(new Error(text))).toBe(false);
    expect(isTransactionBusy(createErrorFromCode(INVALID_PRODUCER_EPOCH))).toBe(false);
  });

  it("knows kafkajs' consumer without a group (restarting), by the text its consumer throws", () => {
    const source = readFileSync(require.resolve('kafkajs/src/consumer/index.js'), 'utf8');
    const text = /'(Consumer group was not initialized[^']*)'/.exec(source)?.[1];
    expect(text).toBeDefined();
    expect(isNotRunning(new KafkaJSNonRetriableError(text!))).toBe(true);
    expect(isNotRunning(new KafkaJSNonRetriableError('Invalid topic undefined'))).toBe(false);
    expect(isNotRunning(new Error(text))).toBe(false);
  });

  it('knows refused SASL credentials by class and by protocol type', () => {
    const handshake = new SaslError('SASL PLAIN authentication failed: bad password');
    expect(isAuthentication(handshake)).toBe(true);
    expect(isAuthentication(notRetried(handshake))).toBe(true);
    expect(isAuthentication(createErrorFromCode(SASL_AUTHENTICATION_FAILED))).toBe(true);
    expect(isRetriable(handshake)).toBe(false);
    expect(isAuthentication(new KafkaJSConnectionError('Connection error: ECONNREFUSED'))).toBe(false);
    expect(isAuthentication(new Error('SASL authentication failed'))).toBe(false);
  });

  it("knows an untrusted broker certificate by Node's TLS code on kafkajs' connection error", () => {
    for (const code of [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      const socket = new KafkaJSConnectionError('Connection error: self-signed certificate', {
        broker: 'localhost:9093',
        code,
      });
      expect(isTls(socket), code).toBe(true);
      expect(isTls(retriesExceeded(socket))).toBe(true);
      expect(isRetriable(socket)).toBe(false);
    }
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9093', {
      broker: 'localhost:9093',
      code: 'ECONNREFUSED',
    });
    expect(isTls(refused)).toBe(false);
    expect(isTls(new Error('self-signed certificate'))).toBe(false);
  });

  it("follows kafkajs' retriable flags, judging exhausted retries by the error they wrap", () => {
    const notLeader = createErrorFromCode(NOT_LEADER_FOR_PARTITION);
    expect(isRetriable(notLeader)).toBe(true);
    expect(isRetriable(retriesExceeded(notLeader))).toBe(true);
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    expect(isRetriable(refused)).toBe(true);
    expect(isRetriable(new KafkaJSError('transient'))).toBe(true);
    expect(isRetriable(new KafkaJSNonRetriableError('Invalid configEntries'))).toBe(false);
    expect(isRetriable(createErrorFromCode(MESSAGE_TOO_LARGE))).toBe(false);
    expect(isRetriable(new Error('anything else'))).toBe(false);
  });

  it('knows a coordinator no broker could name (kafkajs gives up on it), and nothing else as that', () => {
    // As kafkajs' cluster throws it once every broker it knows failed the FindCoordinator lookup.
    const NotFound = KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error;
    const unreachable = new NotFound('Failed to find group coordinator');
    expect(isCoordinatorUnreachable(unreachable)).toBe(true);
    expect(isCoordinatorUnreachable(notRetried(unreachable))).toBe(true);
    expect(isRetriable(unreachable)).toBe(false); // kafkajs' own verdict, which its consumer follows
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    expect(isCoordinatorUnreachable(refused)).toBe(false);
    expect(isCoordinatorUnreachable(createErrorFromCode(NOT_LEADER_FOR_PARTITION))).toBe(false);
    expect(isCoordinatorUnreachable(new KafkaJSNonRetriableError('Topic authorization failed'))).toBe(false);
  });

  it('knows records the broker refuses, and topics that already exist', () => {
    const tooLarge = createErrorFromCode(MESSAGE_TOO_LARGE);
    expect(isRecordRejected(tooLarge)).toBe(true);
    expect(isRecordRejected(notRetried(tooLarge))).toBe(true);
    expect(isRecordRejected(createErrorFromCode(NOT_LEADER_FOR_PARTITION))).toBe(false);
    expect(isRecordRejected(new Error('MESSAGE_TOO_LARGE'))).toBe(false);

    // As kafkajs' CreateTopics response decoder reports per-topic errors.
    const exists = (topic: string) =>
      new KafkaJSCreateTopicError(createErrorFromCode(TOPIC_ALREADY_EXISTS), topic);
    expect(isTopicAlreadyExists(exists('a'))).toBe(true);
    expect(
      isTopicAlreadyExists(new KafkaJSAggregateError('Topic creation errors', [exists('a'), exists('b')])),
    ).toBe(true);
    const mixed = new KafkaJSAggregateError('Topic creation errors', [
      exists('a'),
      new KafkaJSCreateTopicError(createErrorFromCode(MESSAGE_TOO_LARGE), 'b'),
    ]);
    expect(isTopicAlreadyExists(mixed)).toBe(false);
    expect(isTopicAlreadyExists(new Error('Topic with this name already exists'))).toBe(false);
  });
});
