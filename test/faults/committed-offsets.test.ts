// The verdict's committed-offsets check on a transactional source, whose partitions end in markers
// (a commit marker, or an aborted transaction and its marker): the end is the offset after the last
// record a read_committed reader is given, which is what Sluice commits, below the log end.
import { describe, expect, it } from 'vitest';
import { sampleEvents } from '../../src/tools/produce/sample-events.js';
import { createTopic, uniqueName } from '../integration/support/fixtures.js';
import { countingPipeline } from '../integration/support/pipeline-truth.js';
import { writeConfig } from '../integration/support/sluice-process.js';
import { useTestServices } from '../integration/support/services.js';
import { committedToEnd, topicEnds } from './committed-offsets.js';

describe('committed offsets at the end of a transactional source', () => {
  const services = useTestServices();

  it('ends at the last data record, and Sluice commits exactly there', async () => {
    const { kafka } = services;
    const topic = uniqueName('txsource');
    await createTopic(kafka, topic, 2);
    const events = sampleEvents(100, Date.UTC(2026, 4, 1), 60_000, 7, 0);
    const messages = (partition: number, from: number, to: number) =>
      events.slice(from, to).map((event) => ({ partition, value: JSON.stringify(event) }));
    const producer = kafka.producer({ transactionalId: uniqueName('txsource'), maxInFlightRequests: 1 });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: messages(0, 0, 50) });
    await committed.send({ topic, messages: messages(1, 50, 100) });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: messages(0, 0, 10) });
    await aborted.abort();
    await producer.disconnect();

    // p0: records 0-49, a commit marker, 10 aborted records, an abort marker; p1: records 0-49, a marker.
    const ends = await topicEnds(kafka, topic);
    expect(ends).toEqual([
      { partition: 0, dataEnd: 50n, logEnd: 62n },
      { partition: 1, dataEnd: 50n, logEnd: 51n },
    ]);

    const name = uniqueName('txsource');
    const pipeline = countingPipeline({ name, topic, database: uniqueName('txsource'), idleTimeout: '2s' });
    const sluice = services.start(['run', '--config', writeConfig(pipeline)]);
    const verdict = await committedToEnd(kafka, `sluice-${name}`, topic, ends, 60_000);
    expect(verdict).toEqual({ behind: [], line: '2/2 partitions at the end' });
    // Against the log end the same offsets would look behind: the markers are never committed past.
    const logEnds = ends.map((end) => ({ ...end, dataEnd: end.logEnd }));
    expect((await committedToEnd(kafka, `sluice-${name}`, topic, logEnds, 0)).behind).toEqual([
      'p0 50 of 62',
      'p1 50 of 51',
    ]);
    expect(await sluice.stop('SIGTERM')).toBe(0);
  });
});
