// Poison records (invalid JSON, schema violations, a custom stage that throws) land in the dead-letter
// topic with their original bytes, key and headers and their context, while the partition keeps
// moving; then `sluice dlq inspect | replay | purge` work on them as an operator would.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { IHeaders, Kafka } from 'kafkajs';
import { sampleEvents } from '../../../src/tools/produce/sample-events.js';
import { createTopic, readTopic, uniqueName } from '../support/fixtures.js';
import {
  countingPipeline,
  countsIn,
  groundTruth,
  produceEvents,
  waitForCommits,
  waitForCounts,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';

const PARTITIONS = 2;

const STAGE_MODULE = `
export function explode(record) {
  if (record.value.url === '/boom') throw new Error('boom at offset ' + record.offset);
  return record.value;
}
`;

interface Poison {
  partition: number;
  key: string;
  value: string;
  stage: string;
  error: string;
  attempts: string;
  offset?: string;
}

function poisonFor(partition: number): Poison[] {
  const [boom] = sampleEvents(1, Date.UTC(2026, 2, 1), 1_000, 50 + partition);
  return [
    {
      partition,
      key: `bad-json-${partition}`,
      value: '{oops',
      stage: 'parse',
      error: 'invalid JSON',
      attempts: '1',
    },
    {
      partition,
      key: `no-id-${partition}`,
      value: JSON.stringify({ type: 'click', url: '/', timestamp: Date.UTC(2026, 2, 1) }),
      stage: 'parse',
      error: "field 'eventId'",
      attempts: '1',
    },
    {
      partition,
      key: `boom-${partition}`,
      value: JSON.stringify({ ...boom, url: '/boom' }),
      stage: 'explode',
      error: 'boom at offset',
      attempts: '2',
    },
  ];
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return (Array.isArray(value) ? value.at(-1) : value)?.toString();
}

async function topicEnds(kafka: Kafka, topic: string): Promise<Record<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

describe('dead letters', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it('parks poison records with their context, keeps the partition moving, and inspects, replays and purges them', async () => {
    const name = uniqueName('dlq');
    const topic = uniqueName('user_events');
    const database = uniqueName('dlq');
    const dlqTopic = `${topic}.dlq`;
    await createTopic(kafka, topic, PARTITIONS);

    const poison: Poison[] = [];
    const produced: Produced[] = await withProducer(kafka, async (producer) => {
      const good = await produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 150,
        base: Date.UTC(2026, 2, 1),
        span: 3 * 60_000,
        seed: 21,
      });
      for (let partition = 0; partition < PARTITIONS; partition += 1) {
        const bad = poisonFor(partition);
        const [meta] = await producer.send({
          topic,
          acks: -1,
          messages: bad.map((p) => ({
            partition,
            key: p.key,
            value: p.value,
            headers: { 'trace-id': `trace-${p.key}` },
          })),
        });
        bad.forEach((p, i) => (p.offset = String(BigInt(meta!.baseOffset!) + BigInt(i))));
        poison.push(...bad);
      }
      // More good events after the poison: the partition must move past it.
      const after = await produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 50,
        base: Date.UTC(2026, 2, 1, 0, 3),
        span: 60_000,
        seed: 22,
      });
      return [...good, ...after];
    });
    const allOffsets = [
      ...produced,
      ...poison.map((p) => ({ partition: p.partition, offset: BigInt(p.offset!) })),
    ];

    // A YAML stage naming code in a module next to the config file.
    const withStage = writeConfig({
      ...countingPipeline({ name, topic, database, idleTimeout: '1s' }),
      stages: [
        { name: 'explode', module: './explode.mjs', export: 'explode', retry: { max: 1, baseDelay: '10ms' } },
      ],
    });
    writeFileSync(join(dirname(withStage), 'explode.mjs'), STAGE_MODULE);
    const sluice = services.start(['run', '--config', withStage]);

    await waitForCounts(clickhouse, database, groundTruth(produced)).catch((error: Error) => {
      throw new Error(`${error.message}\n--- sluice ---\n${sluice.output().slice(-4000)}`);
    });
    await waitForCommits(kafka, `sluice-${name}`, topic, allOffsets);
    expect(await countsIn(clickhouse, database)).toEqual(groundTruth(produced));
    expect(await sluice.stop('SIGTERM')).toBe(0);

    // The dead letters: original bytes, key and headers, plus where they came from and why.
    const letters = await readTopic(kafka, dlqTopic, poison.length);
    expect(letters).toHaveLength(poison.length);
    for (const p of poison) {
      const letter = letters.find((l) => l.key?.toString() === p.key);
      expect(letter, p.key).toBeDefined();
      expect(letter!.value?.toString()).toBe(p.value);
      expect(header(letter!.headers, 'trace-id')).toBe(`trace-${p.key}`);
      expect(header(letter!.headers, 'sluice.source.topic')).toBe(topic);
      expect(header(letter!.headers, 'sluice.source.partition')).toBe(String(p.partition));
      expect(header(letter!.headers, 'sluice.source.offset')).toBe(p.offset);
      expect(header(letter!.headers, 'sluice.stage')).toBe(p.stage);
      expect(header(letter!.headers, 'sluice.error')).toContain(p.error);
      expect(header(letter!.headers, 'sluice.attempts')).toBe(p.attempts);
      expect(Date.now() - Date.parse(header(letter!.headers, 'sluice.failed.at')!)).toBeLessThan(300_000);
      expect(header(letter!.headers, 'sluice.pipeline')).toBe(name);
    }

    // inspect
    const inspected = await runSluice(['dlq', 'inspect', '--config', withStage, '--json']);
    expect(inspected.code, inspected.output).toBe(0);
    const rows = inspected.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(rows).toHaveLength(poison.length);
    expect(rows.map((r) => r.stage).sort()).toEqual(poison.map((p) => p.stage).sort());
    expect(rows.map((r) => r.source).sort()).toEqual(
      poison.map((p) => `${topic}[${p.partition}]@${p.offset}`).sort(),
    );

    // replay: a dry run publishes nothing; then 2, then the rest, then nothing (progress is committed).
    const ends = await topicEnds(kafka, topic);
    const dry = await runSluice(['dlq', 'replay', '--config', withStage, '--dry-run']);
    expect(dry.output).toContain(`would replay ${poison.length} dead letter(s)`);
    expect(await topicEnds(kafka, topic)).toEqual(ends);
    const first = await runSluice(['dlq', 'replay', '--config', withStage, '--limit', '2', '--since', '1h']);
    expect(first.output, first.output).toContain('replayed 2 dead letter(s)');
    const rest = await runSluice(['dlq', 'replay', '--config', withStage]);
    expect(rest.output).toContain(`replayed ${poison.length - 2} dead letter(s)`);
    const again = await runSluice(['dlq', 'replay', '--config', withStage]);
    expect(again.output).toContain('replayed 0 dead letter(s)');

    const source = await readTopic(kafka, topic, allOffsets.length + poison.length);
    const replayed = source.filter((m) => BigInt(m.offset) >= BigInt(ends[m.partition]!));
    expect(replayed).toHaveLength(poison.length);
    for (const p of poison) {
      const copy = replayed.find((m) => m.key?.toString() === p.key);
      expect(copy?.value?.toString()).toBe(p.value);
      expect(copy?.partition).toBe(p.partition);
      expect(header(copy?.headers, 'trace-id')).toBe(`trace-${p.key}`);
      expect(header(copy?.headers, 'sluice.replayed.from')).toMatch(new RegExp(`^${dlqTopic}/`));
      expect(header(copy?.headers, 'sluice.stage')).toBeUndefined();
    }

    // purge: nothing is older than an hour; everything is older than now.
    const keep = await runSluice(['dlq', 'purge', '--config', withStage, '--older-than', '1h']);
    expect(keep.output).toContain('purged 0 dead letter(s)');
    const purge = await runSluice(['dlq', 'purge', '--config', withStage, '--older-than', '0s']);
    expect(purge.output).toContain(`purged ${poison.length} dead letter(s)`);
    const empty = await runSluice(['dlq', 'inspect', '--config', withStage, '--json']);
    expect(empty.output).toContain('0 dead letter(s) shown');
  });
});
