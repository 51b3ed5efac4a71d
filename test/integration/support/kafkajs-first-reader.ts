// A process that loads kafkajs, and makes a consumer, before anything of Sluice; then loads Sluice's
// read_committed fix and reads a topic to its end (read_committed), printing the values it got as a
// JSON array. The read-committed test runs it to show the fix holds whatever the import order.
import { Kafka, logLevel } from 'kafkajs';

const [brokers, topic, expected] = process.argv.slice(2) as [string, string, string];
const kafka = new Kafka({
  brokers: brokers.split(','),
  clientId: 'kafkajs-first',
  logLevel: logLevel.NOTHING,
});
const consumer = kafka.consumer({ groupId: `kafkajs-first-${process.pid}`, maxWaitTimeInMs: 200 });
const { readCommittedFixed } = await import('../../../src/source/kafkajs-fix.js');
const values: string[] = [];
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachMessage: ({ message }) => {
    values.push(message.value?.toString() ?? '');
    return Promise.resolve();
  },
});
// Read until the expected count and a second more (a leak would show as more than expected).
const deadline = Date.now() + 60_000;
while (values.length < Number(expected) && Date.now() < deadline)
  await new Promise((r) => setTimeout(r, 100));
await new Promise((r) => setTimeout(r, 1_000));
await consumer.disconnect();
process.stdout.write(JSON.stringify({ readCommittedFixed, values }));
