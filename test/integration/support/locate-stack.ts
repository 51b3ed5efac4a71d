// Finds the Kafka broker and ClickHouse server for the integration tests, in this order:
// KAFKA_BROKERS / CLICKHOUSE_URL when set; testcontainers when a Docker engine answers; otherwise the
// native local stack, started for this run and stopped after it, with its ClickHouse server (18.16) or,
// with SLUICE_TEST_CLICKHOUSE=chdb, the current engine behind the chdb front (chdb-front.ts). When no way works, it throws and says
// what is missing: integration tests never skip.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stackDown, stackUp } from '../../../src/tools/stack/local-stack.js';
import { startChdbFront } from './chdb-process.js';

/** Where the security tests reach the same broker and server with credentials and TLS. */
export interface SecureEndpoints {
  kafka: { brokers: string; username: string; password: string; caFile: string; mechanisms: string[] };
  clickhouse: { username: string; password: string };
}

export interface LocatedStack {
  kafkaBrokers: string;
  clickhouseUrl: string;
  /** Only the native stack has them; elsewhere the security tests say what they miss. */
  secure?: SecureEndpoints;
  how: string;
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function fromContainers(): Promise<LocatedStack> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
  const clickhouse = await new GenericContainer('clickhouse/clickhouse-server:25.8')
    .withExposedPorts(8123)
    .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1' })
    .withWaitStrategy(Wait.forHttp('/ping', 8123))
    .start();
  return {
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    clickhouseUrl: `http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`,
    how: 'testcontainers',
    stop: async () => {
      await kafka.stop();
      await clickhouse.stop();
    },
  };
}

/** Which ClickHouse the tests use: the stack's server (release 18.16), or the current engine (chdb). */
function clickhouseEngine(): 'server' | 'chdb' {
  const engine = process.env.SLUICE_TEST_CLICKHOUSE ?? 'server';
  if (engine !== 'server' && engine !== 'chdb') {
    throw new Error(`SLUICE_TEST_CLICKHOUSE: expected "server" or "chdb", found ${JSON.stringify(engine)}`);
  }
  return engine;
}

async function fromNativeStack(): Promise<LocatedStack> {
  const dir =
    process.env.SLUICE_TEST_STACK_DIR ?? join(process.cwd(), '.sluice', `test-stack-${process.pid}`);
  const state = await stackUp({ dir, log: (line) => console.log(`[stack] ${line}`) });
  const chdb = clickhouseEngine() === 'chdb' ? await startChdbFront(join(dir, 'chdb')) : undefined;
  return {
    kafkaBrokers: state.kafka.brokers,
    clickhouseUrl: chdb?.url ?? state.clickhouse.url,
    // The chdb front has no users: the ClickHouse credentials tests need the server.
    secure:
      state.kafka.secure && state.clickhouse.credentials && !chdb
        ? { kafka: state.kafka.secure, clickhouse: state.clickhouse.credentials }
        : undefined,
    how: `native local stack in ${dir} (Kafka ${state.kafka.version}, ClickHouse ${chdb?.version ?? state.clickhouse.version})`,
    stop: async () => {
      await chdb?.stop();
      await stackDown({ dir });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function locateStack(): Promise<LocatedStack> {
  const brokers = process.env.KAFKA_BROKERS;
  const url = process.env.CLICKHOUSE_URL;
  if (brokers && url) {
    return {
      kafkaBrokers: brokers,
      clickhouseUrl: url,
      how: 'KAFKA_BROKERS / CLICKHOUSE_URL',
      stop: async () => {},
    };
  }
  if (brokers || url) {
    throw new Error(
      'set both KAFKA_BROKERS and CLICKHOUSE_URL, or neither (then the tests start their own stack)',
    );
  }
  if (await dockerAnswers()) return fromContainers();
  try {
    return await fromNativeStack();
  } catch (error) {
    throw new Error(
      'integration tests need Kafka and ClickHouse and found neither KAFKA_BROKERS/CLICKHOUSE_URL, nor a Docker ' +
        `engine, nor a working native stack (Java 17, Maven, clickhouse-server): ${(error as Error).message}`,
      { cause: error },
    );
  }
}
