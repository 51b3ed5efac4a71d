// The broker the stack runs is one kafkajs can really use: produce, consume in a group with committed
// offsets, and transactions (commit visible, abort invisible, offsets sent within the transaction).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import { createTopic, testKafka, uniqueName, waitFor } from '../../support/fixtures.js';

describe('Kafka broker with kafkajs', () => {
  let kafka: Kafka;
  const consumers: Consumer[] = [];

  beforeAll(() => {
    kafka = testKafka();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()));
  });

  async function consumeAll(
    topic: string,
    groupId: string,
    isolation: 'read_committed' | 'read_uncommitted',
  ): Promise<{ values: string[]; consumer: Consumer }> {
    const consumer = kafka.consumer({ groupId, readUncommitted: isolation === 'read_uncommitted' });
    consumers.push(consumer);
    const values: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }: EachMessagePayload) => {
        values.push(message.value?.toString() ?? '');
        return Promise.resolve();
      },
    });
    return { values, consumer };
  }

  it('produces, consumes in a group and commits the group offsets', async () => {
    const topic = uniqueName('plain');
    const groupId = uniqueName('group');
    await createTopic(kafka, topic, 3);
    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => `m${i}`);
    await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i % 5}`, value })) });
    await producer.disconnect();

    const { values, consumer } = await consumeAll(topic, groupId, 'read_uncommitted');
    await waitFor(
      `30 records on ${topic}`,
      () => Promise.resolve(values.length),
      (n) => n === 30,
    );
    expect([...values].sort()).toEqual([...sent].sort());
    await consumer.stop();

    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const committedByPartition = Object.fromEntries(
      committed!.partitions.map((p) => [p.partition, p.offset]),
    );
    for (const end of ends) expect(committedByPartition[end.partition]).toBe(end.high);
  });

  it('makes committed transactions visible to read_committed readers and hides aborted ones', async () => {
    const topic = uniqueName('txn');
    const groupId = uniqueName('txn_group');
    await createTopic(kafka, topic, 1);
    const producer = kafka.producer({
      transactionalId: uniqueName('txn_id'),
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await producer.connect();

    const committedTxn = await producer.transaction();
    await committedTxn.send({ topic, messages: [{ value: 'kept-1' }, { value: 'kept-2' }] });
    await committedTxn.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset: '42' }] }],
    });
    await committedTxn.commit();

    const abortedTxn = await producer.transaction();
    await abortedTxn.send({ topic, messages: [{ value: 'dropped' }] });
    await abortedTxn.abort();

    const lastTxn = await producer.transaction();
    await lastTxn.send({ topic, messages: [{ value: 'kept-3' }] });
    await lastTxn.commit();
    await producer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    expect(offsets!.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '42' })]);

    const { values } = await consumeAll(topic, uniqueName('reader'), 'read_committed');
    await waitFor(
      'the committed records',
      () => Promise.resolve(values.length),
      (n) => n >= 3,
    );
    expect(values).toEqual(['kept-1', 'kept-2', 'kept-3']);
  });
});
