// The level kafkajs' log entries get in Sluice's log, on entries as kafkajs writes them (its messages,
// namespaces and fields, from the kafkajs 2.2 sources and a normal start's log on the local stack):
// retried and recovered errors at debug, at warn once they repeat, error only for what nobody retries.
import { describe, expect, it } from 'vitest';
import {
  REPEATS_BEFORE_WARN,
  sluiceLevelOf,
  type KafkajsLogEntry,
} from '../../../src/source/kafka-log-level.js';

const ERROR = 1;
const WARN = 2;
const INFO = 4;

function entry(
  level: number,
  namespace: string,
  message: string,
  fields: Record<string, unknown> = {},
): KafkajsLogEntry {
  return { level, namespace, message, fields };
}

/** network/connection.js: a broker's answer that carries a protocol error. */
function response(api: string, error: string): KafkajsLogEntry {
  return entry(ERROR, 'Connection', `Response ${api}(key: 10, version: 2)`, {
    broker: 'localhost:9092',
    clientId: 'sluice',
    error,
    correlationId: 3,
    size: 40,
  });
}

describe('the level of a kafkajs log entry', () => {
  it.each([
    ['coordinator not available', response('FindCoordinator', 'The group coordinator is not available')],
    [
      'coordinator loading',
      response(
        'InitProducerId',
        "The coordinator is loading and hence can't process requests for this group",
      ),
    ],
    ['not leader', response('ListOffsets', 'This server is not the leader for that topic-partition')],
    ['not coordinator', response('JoinGroup', 'This is not the correct coordinator for this group')],
    [
      'leader election',
      response(
        'Metadata',
        'There is no leader for this topic-partition as we are in the middle of a leadership election',
      ),
    ],
    ['rebalance in progress', response('Heartbeat', 'The group is rebalancing, so a rejoin is needed')],
    ['unknown member', response('SyncGroup', 'The coordinator is not aware of this member')],
    [
      'a fenced producer',
      response(
        'Produce',
        "Producer attempted an operation with an old epoch. Either there is a newer producer with the same transactionalId, or the producer's transaction has been expired by the broker",
      ),
    ],
    [
      'a concurrent transaction',
      response(
        'AddPartitionsToTxn',
        'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
      ),
    ],
    ['a topic created by another worker', response('CreateTopics', 'Topic with this name already exists')],
    [
      'a rejoin the runner announces',
      entry(WARN, 'Runner', 'The group is rebalancing, re-joining', {
        groupId: 'g',
        memberId: 'm',
        error: 'The group is rebalancing, so a rejoin is needed',
      }),
    ],
    [
      'a member the coordinator forgot',
      entry(ERROR, 'Runner', 'The coordinator is not aware of this member, re-joining the group', {
        groupId: 'g',
        memberId: 'm',
        error: 'The coordinator is not aware of this member',
      }),
    ],
    [
      'a connection that failed',
      entry(ERROR, 'Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
    ],
    ['a connection timeout', entry(ERROR, 'Connection', 'Connection timeout')],
    [
      'a send retried for the first time',
      entry(
        ERROR,
        'Producer',
        'Failed to send messages: This server is not the leader for that topic-partition',
        {
          retryCount: 0,
          retryTime: 300,
        },
      ),
    ],
    [
      'an admin call retried',
      entry(WARN, 'Admin', 'Could not describe configs', {
        error: 'There is no leader for this topic-partition as we are in the middle of a leadership election',
        retryCount: 1,
        retryTime: 400,
      }),
    ],
    ['anything kafkajs logs at info', entry(INFO, 'Consumer', 'Starting', { groupId: 'g' })],
  ])('%s: debug', (_what, logged) => {
    expect(sluiceLevelOf(logged)).toBe('debug');
  });

  it('a retried error that keeps coming back: warn, with its context', () => {
    const logged = (retryCount: number) =>
      entry(ERROR, 'BrokerPool', 'Failed to connect to broker, reconnecting', {
        retryCount,
        retryTime: 2_000,
      });
    expect(sluiceLevelOf(logged(REPEATS_BEFORE_WARN - 1))).toBe('debug');
    expect(sluiceLevelOf(logged(REPEATS_BEFORE_WARN))).toBe('warn');
    expect(sluiceLevelOf(logged(50))).toBe('warn');
  });

  it('a consumer that crashes on a retriable error and restarts: warn', () => {
    expect(
      sluiceLevelOf(
        entry(
          ERROR,
          'Consumer',
          'Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available',
          {
            groupId: 'g',
            retryCount: 5,
          },
        ),
      ),
    ).toBe('warn');
    expect(
      sluiceLevelOf(
        entry(ERROR, 'Consumer', 'Restarting the consumer in 300ms', { retryTime: 300, groupId: 'g' }),
      ),
    ).toBe('warn');
    // kafkajs does not restart after this one; Sluice does (group-consumer.ts).
    expect(
      sluiceLevelOf(
        entry(ERROR, 'Consumer', 'Crash: KafkaJSGroupCoordinatorNotFound: Failed to find group coordinator', {
          groupId: 'g',
        }),
      ),
    ).toBe('warn');
  });

  it.each([
    [
      'a consumer crash that does not restart',
      entry(ERROR, 'Consumer', 'Crash: KafkaJSNonRetriableError: Topic authorization failed', {
        groupId: 'g',
      }),
    ],
    ['refused credentials', entry(ERROR, 'Connection', 'SASL PLAIN authentication failed: bad credentials')],
    [
      'records the broker refuses',
      response(
        'Produce',
        'The request included a message larger than the max message size the server will accept',
      ),
    ],
    [
      'an error in Sluice’s batch handler',
      entry(ERROR, 'Runner', 'Error when calling eachBatch', {
        topic: 't',
        partition: 0,
        error: new TypeError('x'),
      }),
    ],
    ['offsets reset', entry(ERROR, 'ConsumerGroup', 'Offset out of range, resetting to default offset')],
  ])('%s: error', (_what, logged) => {
    expect(sluiceLevelOf(logged)).toBe('error');
  });

  it('a warning about what nobody retries stays a warning', () => {
    expect(
      sluiceLevelOf(
        entry(WARN, 'Producer', 'Limiting retries for the idempotent producer may invalidate EoS guarantees'),
      ),
    ).toBe('warn');
  });
});
