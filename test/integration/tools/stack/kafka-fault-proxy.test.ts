// The Kafka fault proxy in front of a broker that advertises it (startKafka's `advertisedPort`): every
// client connection goes through it, and a cut at EndTxn lands before the broker commits ('request')
// or after ('response'). Also shows what kafkajs 2.2 does with such a commit: the producer stays in
// COMMITTING and refuses every later transaction, and only a new producer with the same
// transactional id (which fences the old one) gets going again.
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopic, readTopic, uniqueName } from '../../support/fixtures.js';
import { API_KEYS } from '../../support/kafka-fault-proxy.js';
import { startOwnBroker } from '../../support/own-broker.js';

describe('Kafka fault proxy', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  const transactional = async (kafka: Kafka, id: string): Promise<Producer> => {
    const producer = kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    return producer;
  };

  it('cuts every connection at an EndTxn commit, before or after the broker committed it', async () => {
    const broker = await startOwnBroker('kafka-proxy', cleanups, { proxy: true });
    const { kafka } = broker;
    const proxy = broker.proxy!;
    const topic = uniqueName('proxied');
    await createTopic(kafka, topic, 1);
    const id = uniqueName('txn');

    // Before the broker: the commit fails, and the producer is stuck in COMMITTING for good.
    const first = await transactional(kafka, id);
    const lost = proxy.arm({ apiKey: API_KEYS.EndTxn, match: (r) => r.commit === true });
    const tx = await first.transaction();
    await tx.send({ topic, messages: [{ value: 'never committed' }] });
    await expect(tx.commit()).rejects.toThrow();
    const cut = await lost;
    expect(cut).toMatchObject({ at: 'request', request: { apiKey: 26, transactionalId: id, commit: true } });
    expect(cut.connections).toBeGreaterThan(0);
    await expect(first.transaction()).rejects.toThrow(/Cannot call "beginTransaction" in state "COMMITTING"/);

    // A new producer with the same id fences the old one and aborts its open transaction.
    const second = await transactional(kafka, id);
    const fence = await second.transaction();
    await fence.abort();
    // After the broker: the commit fails on the client although the broker committed it.
    const unanswered = proxy.arm({
      apiKey: API_KEYS.EndTxn,
      match: (r) => r.commit === true,
      at: 'response',
    });
    const committed = await second.transaction();
    await committed.send({ topic, messages: [{ value: 'committed, unanswered' }] });
    await expect(committed.commit()).rejects.toThrow();
    expect((await unanswered).at).toBe('response');

    const seen = await readTopic(kafka, topic, 1);
    expect(seen.map((m) => m.value?.toString())).toEqual(['committed, unanswered']);
    // Only the unanswered commit reached the broker: kafkajs ends an empty transaction (the fence) locally.
    expect(proxy.seen(API_KEYS.EndTxn)).toBe(1);
    expect(proxy.cuts).toHaveLength(2);
  });
});
