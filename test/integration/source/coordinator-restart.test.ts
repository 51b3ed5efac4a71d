// kafkajs gives up on its consumer, without restarting it, when no broker answers its lookup of the
// group's coordinator (KafkaJSGroupCoordinatorNotFound): a broker restarting at that moment was enough
// to stop a pipeline in the broker-restart fault scenario. Sluice's GroupConsumer restarts it. Here
// the Kafka fault proxy cuts the consumer's first FindCoordinator and refuses connections for 2.5 s:
// the consumer must crash on it, be restarted, join, and read the topic.
import { afterAll, describe, expect, it } from 'vitest';
import { isCoordinatorUnreachable } from '../../../src/source/kafka-errors.js';
import { GroupConsumer } from '../../../src/source/group-consumer.js';
import { createTopic, uniqueName, waitFor } from '../support/fixtures.js';
import { startOwnBroker } from '../support/own-broker.js';

/** FindCoordinator's api key. */
const FIND_COORDINATOR = 10;

describe("the source's group consumer", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('restarts after no broker could name the group coordinator, joins, and reads', async () => {
    const broker = await startOwnBroker('coordinator', cleanups, { proxy: true });
    const { kafka } = broker;
    const topic = uniqueName('coordinated');
    await createTopic(kafka, topic, 1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'one' }, { value: 'two' }] });
    await producer.disconnect();

    const crashes: { error: unknown; restarting: boolean }[] = [];
    const assigned: number[][] = [];
    const read: string[] = [];
    const consumer = new GroupConsumer(kafka, {
      groupId: uniqueName('coordinated'),
      topic,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      fromBeginning: true,
    });
    cleanups.push(() => consumer.stop());
    const cut = broker.proxy!.arm({ apiKey: FIND_COORDINATOR, refuseMs: 2_500 });
    await consumer.start(
      {
        assigned: (partitions) => assigned.push(partitions),
        rebalancing: () => undefined,
        fetched: () => undefined,
        skipped: () => undefined,
        crashed: (error, restarting) => crashes.push({ error, restarting }),
        batch: (batch) => {
          for (const record of batch.records) read.push(record.value?.toString() ?? '');
          const last = batch.records.at(-1);
          if (last) batch.resolve(last.offset);
          return Promise.resolve();
        },
      },
      1,
    );
    await cut;
    await waitFor(
      'the restarted consumer to read both records',
      () => Promise.resolve(read),
      (r) => r.length === 2,
      60_000,
    );
    expect(read).toEqual(['one', 'two']);
    expect(assigned.at(-1)).toEqual([0]);
    // Every crash was the unreachable coordinator, and each one was restarted.
    expect(crashes.length).toBeGreaterThan(0);
    expect(crashes.every((c) => isCoordinatorUnreachable(c.error) && c.restarting)).toBe(true);
  }, 120_000);
});
