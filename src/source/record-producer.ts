// A plain idempotent producer (at-least-once writes outside the commit transaction): what the Kafka
// sink under at-least-once writes its batches through. Acks from all in-sync replicas; a send a
// partition at a time (partitioned-sends.ts).
import type { Kafka, Producer } from 'kafkajs';
import type { OutgoingRecord } from './outgoing-record.js';
import { defaultPartitioner, idempotentRetry } from './kafka-client.js';
import { partitionedSends, type PartitionedSends } from './partitioned-sends.js';

export interface RecordProducer {
  connect(): Promise<void>;
  /** Resolves once every in-sync replica has the records. */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

class IdempotentProducer implements RecordProducer {
  private readonly producer: Producer;
  private readonly sends: PartitionedSends;

  constructor(kafka: Kafka) {
    this.sends = partitionedSends(kafka);
    this.producer = kafka.producer({
      idempotent: true,
      retry: idempotentRetry,
      createPartitioner: defaultPartitioner,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  async send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    await this.sends.send(topic, records, async (_, __, messages) => {
      await this.producer.send({ topic, acks: -1, messages });
    });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

export function idempotentProducer(kafka: Kafka): RecordProducer {
  return new IdempotentProducer(kafka);
}
