// Sluice against a broker that asks for SASL over TLS and a ClickHouse that asks for a password, all
// from the environment: the stack's SASL_SSL listener (PLAIN and SCRAM, a self-signed certificate) and
// its `sluice` ClickHouse user. Wrong credentials and an untrusted certificate fail fast, say which
// variable to fix, and never print a secret.
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createTopic, uniqueName } from '../support/fixtures.js';
import type { SecureEndpoints } from '../support/locate-stack.js';
import {
  countingPipeline,
  groundTruth,
  produceEvents,
  waitForCommits,
  waitForCounts,
  withProducer,
} from '../support/pipeline-truth.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';

function secureEndpoints(): SecureEndpoints {
  const secure = inject('secure');
  if (!secure)
    throw new Error(
      'the security tests need a SASL_SSL listener and a ClickHouse user with a password: the native stack ' +
        '(`sluice stack up`) has both; KAFKA_BROKERS/CLICKHOUSE_URL and testcontainers stacks do not',
    );
  return secure;
}

/** The environment a Helm deployment gives Sluice from its Secrets. */
function secureEnv(secure: SecureEndpoints, mechanism: string, password = secure.kafka.password) {
  return {
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: secure.kafka.username,
    KAFKA_SASL_PASSWORD: password,
    KAFKA_SSL_CA_FILE: secure.kafka.caFile,
    CLICKHOUSE_USER: secure.clickhouse.username,
    CLICKHOUSE_PASSWORD: secure.clickhouse.password,
  };
}

describe('Kafka SASL/TLS and ClickHouse credentials', () => {
  const services = useTestServices();

  it('runs a pipeline over SASL_SSL with SCRAM-SHA-512 and a ClickHouse password, logging neither', async () => {
    const secure = secureEndpoints();
    const name = uniqueName('secure');
    const topic = uniqueName('user_events');
    const database = uniqueName('secure');
    await createTopic(services.kafka, topic, 2);
    const pipeline = countingPipeline({ name, topic, database, idleTimeout: '1s' });
    const config = writeConfig({
      ...pipeline,
      source: { ...pipeline.source, brokers: [secure.kafka.brokers] },
    });
    const sluice = services.start(['run', '--config', config], secureEnv(secure, 'scram-sha-512'));

    const produced = await withProducer(services.kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: 2,
        perPartition: 150,
        base: Date.UTC(2026, 2, 1),
        span: 3 * 60_000,
        seed: 8,
      }),
    );
    const expected = groundTruth(produced);
    // Every window closes (idle timeout) and lands, and the transactions that commit them went through
    // the same authenticated connections.
    expect(await waitForCounts(services.clickhouse, database, expected)).toEqual(expected);
    await waitForCommits(services.kafka, pipeline.source.groupId, topic, produced);
    expect(await sluice.stop('SIGTERM')).toBe(0);
    const output = sluice.output();
    expect(output).toContain('"msg":"partitions assigned"');
    expect(output).not.toContain(secure.kafka.password);
    expect(output).not.toContain(secure.clickhouse.password);
  });

  it('connects over SASL PLAIN and SCRAM-SHA-256 too', async () => {
    const secure = secureEndpoints();
    const config = writeConfig({
      ...countingPipeline({
        name: uniqueName('plain'),
        topic: 'unused',
        database: 'unused',
        idleTimeout: '1s',
      }),
      source: { brokers: [secure.kafka.brokers], topic: 'unused' },
    });
    for (const mechanism of ['plain', 'scram-sha-256']) {
      // The dead-letter tools connect, authenticate and list the topics: none yet, which is no error.
      const dead = uniqueName('dead');
      const { code, output } = await runSluice(
        ['dlq', 'inspect', '--config', config, '--topic', dead],
        secureEnv(secure, mechanism),
      );
      expect({ mechanism, code, output }).toEqual({
        mechanism,
        code: 0,
        output: `no dead letters: topic ${dead} does not exist yet (nothing has failed)\n`,
      });
    }
  });

  it('refuses wrong Kafka credentials at once, naming the variables and not the password', async () => {
    const secure = secureEndpoints();
    const config = writeConfig({
      ...countingPipeline({
        name: uniqueName('badpw'),
        topic: 'unused',
        database: 'unused',
        idleTimeout: '1s',
      }),
      source: { brokers: [secure.kafka.brokers], topic: 'unused' },
    });
    const wrong = 'not-the-password-42';
    const { code, output } = await runSluice(
      ['run', '--config', config],
      secureEnv(secure, 'scram-sha-256', wrong),
    );
    expect(code).toBe(1);
    expect(output).toContain(
      `Kafka at ${secure.kafka.brokers} refused SASL scram-sha-256 authentication as "${secure.kafka.username}"`,
    );
    expect(output).toContain('Check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM');
    expect(output).not.toContain(wrong);
  });

  it('says to set KAFKA_SSL_CA_FILE when the broker certificate is not trusted', async () => {
    const secure = secureEndpoints();
    const config = writeConfig({
      ...countingPipeline({
        name: uniqueName('noca'),
        topic: 'unused',
        database: 'unused',
        idleTimeout: '1s',
      }),
      source: { brokers: [secure.kafka.brokers], topic: 'unused' },
    });
    const withoutCa: Record<string, string> = { ...secureEnv(secure, 'plain') };
    delete withoutCa.KAFKA_SSL_CA_FILE;
    const { code, output } = await runSluice(['run', '--config', config], {
      ...withoutCa,
      KAFKA_SSL: 'true',
    });
    expect(code).toBe(1);
    expect(output).toContain(`could not verify the TLS certificate of Kafka at ${secure.kafka.brokers}`);
    expect(output).toContain('Set KAFKA_SSL_CA_FILE');
  });

  it('refuses a wrong ClickHouse password, naming the variables and not the password', async () => {
    const secure = secureEndpoints();
    const wrong = 'not-the-clickhouse-password';
    const config = writeConfig(
      countingPipeline({ name: uniqueName('chpw'), topic: 'unused', database: 'unused', idleTimeout: '1s' }),
    );
    const { code, output } = await runSluice(['run', '--config', config], {
      CLICKHOUSE_USER: secure.clickhouse.username,
      CLICKHOUSE_PASSWORD: wrong,
    });
    expect(code).toBe(1);
    expect(output).toContain(
      `ClickHouse at ${inject('clickhouseUrl')} refused user "${secure.clickhouse.username}"`,
    );
    expect(output).toContain('Check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD');
    expect(output).not.toContain(wrong);
  });
});
