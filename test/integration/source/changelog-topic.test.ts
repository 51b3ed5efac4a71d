// The changelog topic against the real broker: an existing one that is not compacted, or has another
// partition count than the source, is refused at start-up with what to run; one Sluice creates carries
// the configs that keep restores short. And a normal start and short run of `sluice run` logs no error
// and no kafkajs warning about the idempotent producer.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs, { type Kafka } from 'kafkajs';
import { definePipeline, run, SluiceError } from '../../../src/index.js';
import { CHANGELOG_CREATION_CONFIG } from '../../../src/source/changelog-topic.js';
import { testKafka, uniqueName, waitFor } from '../support/fixtures.js';
import { countingPipeline, produceEvents, waitForCommits, withProducer } from '../support/pipeline-truth.js';
import { runSluice, startSluice, writeConfig, type SluiceProcess } from '../support/sluice-process.js';
import { captureLog } from '../support/log-capture.js';

const { ConfigResourceTypes } = kafkajs;
const PARTITIONS = 4;

async function topicConfigs(kafka: Kafka, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
    return Object.fromEntries(
      described.resources.flatMap((r) => r.configEntries).map((c) => [c.configName, c.configValue]),
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a topic with these configs and waits until every partition has a leader. Polled rather than
 * kafkajs' waitForLeaders, which gives up when a fresh broker still answers UNKNOWN_TOPIC_OR_PARTITION.
 */
async function createTopicWith(
  kafka: Kafka,
  topic: string,
  numPartitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions,
          configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    await waitFor(
      `${numPartitions} partitions of ${topic} with leaders`,
      async () => (await admin.fetchTopicOffsets(topic)).length,
      (n) => n === numPartitions,
      30_000,
    );
  } finally {
    await admin.disconnect();
  }
}

/** The pino JSON lines of a process's output (it also prints non-JSON lines: errors to stderr). */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the changelog topic', () => {
  let kafka: Kafka;
  const processes: SluiceProcess[] = [];

  beforeAll(() => {
    kafka = testKafka();
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  });

  it('refuses an existing changelog under cleanup.policy=delete, naming it and the fix; `sluice run` exits 1', async () => {
    const name = uniqueName('cl_delete');
    const topic = uniqueName('user_events');
    const changelog = `sluice-${name}-changelog`;
    await createTopicWith(kafka, topic, PARTITIONS);
    await createTopicWith(kafka, changelog, PARTITIONS, { 'cleanup.policy': 'delete' });
    const config = writeConfig(
      countingPipeline({ name, topic, database: uniqueName('cl_delete'), idleTimeout: '1s' }),
    );

    const { code, output } = await runSluice(['run', '--config', config]);

    expect(code, output).toBe(1);
    expect(output).toContain(
      `sluice: changelog topic ${changelog} has cleanup.policy=delete; Sluice needs compact`,
    );
    expect(output).toContain(
      `kafka-configs.sh --bootstrap-server ${inject('kafkaBrokers')} --alter --entity-type topics --entity-name ${changelog} --add-config cleanup.policy=compact`,
    );
    expect(output).toContain(
      `kafka-topics.sh --bootstrap-server ${inject('kafkaBrokers')} --delete --topic ${changelog}`,
    );
    expect(output).not.toContain('pipeline started');
    // Refused, not altered behind the operator's back.
    expect((await topicConfigs(kafka, changelog))['cleanup.policy']).toBe('delete');
  });

  it('refuses an existing changelog with another partition count than the source', async () => {
    const name = uniqueName('cl_parts');
    const topic = uniqueName('user_events');
    const changelog = `sluice-${name}-changelog`;
    await createTopicWith(kafka, topic, PARTITIONS);
    await createTopicWith(kafka, changelog, PARTITIONS - 2, { 'cleanup.policy': 'compact' });
    const log = captureLog();
    const pipeline = definePipeline(
      countingPipeline({ name, topic, database: uniqueName('cl_parts'), idleTimeout: '1s' }),
    );

    const refused = await run(pipeline, { logger: log.logger }).then(
      async (running) => {
        await running.stop();
        return undefined;
      },
      (error: unknown) => error,
    );

    expect(refused).toBeInstanceOf(SluiceError);
    expect((refused as SluiceError).code).toBe('SLUICE_KAFKA_STATE_TOPIC');
    expect((refused as SluiceError).retriable).toBe(false);
    expect((refused as SluiceError).message).toBe(
      `state topic ${changelog} has ${PARTITIONS - 2} partition(s); the source has ${PARTITIONS}. ` +
        'Recreate it with as many partitions as the source (its state is rebuilt from the source only by replaying from the beginning).',
    );
    expect(log.count('pipeline started')).toBe(0);
  });

  it('a normal start creates the changelog with the restore-bounding configs, and a short run logs no error', async () => {
    const name = uniqueName('cl_created');
    const topic = uniqueName('user_events');
    const changelog = `sluice-${name}-changelog`;
    await createTopicWith(kafka, topic, PARTITIONS);
    const config = writeConfig(
      countingPipeline({ name, topic, database: uniqueName('cl_created'), idleTimeout: '1s' }),
    );
    const sluice = startSluice(['run', '--config', config]);
    processes.push(sluice);
    await sluice.next(/partitions assigned/);

    const produced = await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 50,
        base: Date.now(),
        span: 5_000,
        seed: 18,
      }),
    );
    await waitForCommits(kafka, `sluice-${name}`, topic, produced);
    const code = await sluice.stop('SIGTERM');
    const output = sluice.output();
    expect(code, output).toBe(0);

    const configs = await topicConfigs(kafka, changelog);
    for (const [key, value] of Object.entries(CHANGELOG_CREATION_CONFIG))
      expect(configs[key], key).toBe(value);
    const lines = logLines(output);
    expect(
      lines.some(
        (line) => line.msg === 'created the changelog topic, compacted and configured for short restores',
      ),
    ).toBe(true);

    // pino levels: 40 warn, 50 error.
    const loud = lines.filter((line) => Number(line.level) >= 40);
    const shown = loud.map((line) => JSON.stringify(line)).join('\n');
    expect(
      loud.filter((line) => Number(line.level) >= 50),
      shown,
    ).toEqual([]);
    expect(output).not.toContain('invalidate EoS');
    expect(output).not.toContain('switched default partitioner');
    expect(loud, shown).toEqual([]);
  });
});
