// Topics that several transactional producers share (Sluice's own output topics, a Kafka Streams
// app's, a chained Sluice pipeline's source) interleave their transactions in each partition. A
// read_committed reader must skip every aborted one. kafkajs 2.2.4 does not (it leaked 57 of 123
// aborted records in a three-producer run); Sluice installs a correct filter (src/source/kafkajs-fix.ts),
// which this checks for a plain kafkajs reader (also one that loaded kafkajs before Sluice) and for a
// pipeline counting windows from such a topic.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { sampleEvents, type SampleEvent } from '../../../src/tools/produce/sample-events.js';
import { createTopic, readTopic, uniqueName } from '../support/fixtures.js';
import { interleavedTransactions, type InterleavedOptions } from '../support/interleaved-transactions.js';
import { countingPipeline, groundTruth, waitForCounts, type Produced } from '../support/pipeline-truth.js';
import { writeConfig } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';

const PARTITIONS = 2;
/**
 * Three writers; a send holds 1 to 4 events; 70 % of the steps send, and of the transactions ended
 * before the events run out, half commit.
 */
const EVENT_WRITERS: InterleavedOptions<SampleEvent> = {
  writers: 3,
  seed: 4242,
  maxPerSend: 4,
  sendShare: 0.7,
  commitShare: 0.5,
  message: (event) => ({ key: event.userId, value: JSON.stringify(event) }),
};

describe('reading topics written by several transactional producers', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it('a read_committed kafkajs reader and a pipeline see only committed transactions', async () => {
    const topic = uniqueName('txn_source');
    const name = uniqueName('txn');
    const database = uniqueName('txn');
    await createTopic(kafka, topic, PARTITIONS);
    const events = sampleEvents(1_500, Date.UTC(2026, 6, 1), 10 * 60_000, 77);
    const { committed, aborted } = await interleavedTransactions(kafka, topic, events, EVENT_WRITERS);
    expect(aborted).toBeGreaterThan(100);

    const read = await readTopic(kafka, topic, committed.length);
    const ids = read.map((m) => (JSON.parse(m.value!.toString()) as SampleEvent).eventId);
    expect(ids.sort()).toEqual(committed.map((e) => e.eventId).sort());

    // The pipeline's source is the same topic: its windows count the committed events only.
    const expected = groundTruth(committed.map((event): Produced => ({ partition: 0, offset: 0n, event })));
    services.start([
      'run',
      '--config',
      writeConfig(countingPipeline({ name, topic, database, idleTimeout: '1s' })),
    ]);
    const found = await waitForCounts(clickhouse, database, expected);
    expect(found).toEqual(expected);
  });

  it('reads past an aborted transaction too large for one fetch', async () => {
    // A crash mid-transaction after a backlog: thousands of records aborted, the abort marker further on
    // than one fetch (1 MB per partition) reaches. A reader must skip them all, not ask again forever.
    const topic = uniqueName('txn_large');
    await createTopic(kafka, topic, 1);
    const large = kafka.producer({
      transactionalId: `${topic}-large`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const small = kafka.producer({
      transactionalId: `${topic}-small`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await Promise.all([large.connect(), small.connect()]);
    try {
      const aborted = await large.transaction();
      const filler = 'x'.repeat(1_000);
      for (let chunk = 0; chunk < 4; chunk += 1)
        await aborted.send({
          topic,
          messages: Array.from({ length: 1_000 }, (_, i) => ({ value: `${chunk}-${i}-${filler}` })),
        });
      await aborted.abort();
      const committed = await small.transaction();
      await committed.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `committed-${i}` })),
      });
      await committed.commit();
    } finally {
      await Promise.all([large.disconnect(), small.disconnect()]);
    }
    const read = await readTopic(kafka, topic, 10);
    expect(read.map((m) => m.value!.toString())).toEqual(
      Array.from({ length: 10 }, (_, i) => `committed-${i}`),
    );
  });

  it('holds when kafkajs is loaded, and a consumer made, before Sluice', async () => {
    const topic = uniqueName('txn_first');
    await createTopic(kafka, topic, PARTITIONS);
    const events = sampleEvents(600, Date.UTC(2026, 6, 1), 10 * 60_000, 78);
    const { committed, aborted } = await interleavedTransactions(kafka, topic, events, EVENT_WRITERS);
    expect(aborted).toBeGreaterThan(30);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/integration/support/kafkajs-first-reader.ts',
        inject('kafkaBrokers'),
        topic,
        String(committed.length),
      ],
      { timeout: 120_000 },
    );
    const read = JSON.parse(stdout) as { readCommittedFixed: boolean; values: string[] };
    expect(read.readCommittedFixed).toBe(true);
    const ids = read.values.map((value) => (JSON.parse(value) as SampleEvent).eventId);
    expect(ids.sort()).toEqual(committed.map((e) => e.eventId).sort());
  });
});
