// `sluice stack up|status|down`: one Kafka broker and one ClickHouse server on free loopback ports,
// described by a state file. `up` is idempotent: a healthy running stack is returned as it is.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startClickHouse } from './clickhouse-server.js';
import { checkedKafkaVersion, selectedKafkaVersion } from './kafka-release.js';
import { startKafka } from './kafka-server.js';
import { freePorts, isPortFree } from './ports.js';
import { isAlive, stopProcess } from './processes.js';
import { StackError } from './stack-error.js';
import { readStackState, removeStackState, writeStackState, type StackState } from './stack-state.js';

export interface StackOptions {
  dir: string;
  /** The Apache Kafka release; defaults to SLUICE_KAFKA_VERSION or the stack's default. */
  kafkaVersion?: string;
  log?: (line: string) => void;
}

export type StackHealth = 'running' | 'stopped' | 'degraded';

export interface StackStatus {
  health: StackHealth;
  state?: StackState;
  kafkaAlive: boolean;
  clickhouseAlive: boolean;
}

export async function stackStatus(dir: string): Promise<StackStatus> {
  const state = await readStackState(dir);
  if (!state) return { health: 'stopped', kafkaAlive: false, clickhouseAlive: false };
  const kafkaAlive = isAlive(state.kafka.pid);
  const clickhouseAlive = isAlive(state.clickhouse.pid);
  const health =
    kafkaAlive && clickhouseAlive ? 'running' : kafkaAlive || clickhouseAlive ? 'degraded' : 'stopped';
  return { health, state, kafkaAlive, clickhouseAlive };
}

/** An explicit port from the environment must be free; otherwise `fallback` is used. */
async function chosenPort(envName: string, fallback: number): Promise<number> {
  const text = process.env[envName];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new StackError(`${envName}: expected a TCP port number, found ${JSON.stringify(text)}`);
  }
  if (!(await isPortFree(port))) {
    throw new StackError(
      `${envName}=${port}: that port is taken by another process; free it or choose another port`,
    );
  }
  return port;
}

export async function stackUp(options: StackOptions): Promise<StackState> {
  const log = options.log ?? (() => {});
  const kafkaVersion =
    options.kafkaVersion === undefined
      ? selectedKafkaVersion()
      : checkedKafkaVersion(options.kafkaVersion, '--kafka-version');
  const current = await stackStatus(options.dir);
  if (current.health === 'running' && current.state) {
    if (current.state.kafka.version !== kafkaVersion) {
      throw new StackError(
        `the stack in ${options.dir} runs Kafka ${current.state.kafka.version}, not ${kafkaVersion}: ` +
          `stop it first (sluice stack down --dir ${options.dir}), or use another --dir`,
      );
    }
    return current.state;
  }
  if (current.health === 'degraded') await stackDown(options);

  const [kafkaPort, controllerPort, securePort, httpPort, tcpPort] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const kafkaDir = join(options.dir, 'kafka');
  const clickhouseDir = join(options.dir, 'clickhouse');
  await mkdir(kafkaDir, { recursive: true });
  await mkdir(clickhouseDir, { recursive: true });

  // Start both servers at once: a cold start then costs the slower of the two, not their sum.
  const [kafka, clickhouse] = await Promise.allSettled([
    startKafka({
      dir: kafkaDir,
      port: await chosenPort('SLUICE_KAFKA_PORT', kafkaPort),
      controllerPort,
      securePort,
      version: kafkaVersion,
      log,
    }),
    startClickHouse({
      dir: clickhouseDir,
      httpPort: await chosenPort('SLUICE_CLICKHOUSE_PORT', httpPort),
      tcpPort,
      log,
    }),
  ]);
  if (kafka.status === 'rejected' || clickhouse.status === 'rejected') {
    if (kafka.status === 'fulfilled') await stopProcess(kafka.value.pid, 15_000);
    if (clickhouse.status === 'fulfilled') await stopProcess(clickhouse.value.pid, 15_000);
    const reasons = [kafka, clickhouse]
      .filter((r) => r.status === 'rejected')
      .map((r) => r.reason as unknown);
    throw reasons.length === 1 ? reasons[0] : new AggregateError(reasons, 'the local stack did not start');
  }
  const state: StackState = {
    kafka: kafka.value,
    clickhouse: clickhouse.value,
    startedAt: new Date().toISOString(),
  };
  await writeStackState(options.dir, state);
  return state;
}

/** Stops the stack's processes (Kafka first, so it can still write its final state), keeping data. */
export async function stackDown(options: StackOptions): Promise<boolean> {
  const state = await readStackState(options.dir);
  if (!state) return false;
  await stopProcess(state.kafka.pid, 20_000);
  await stopProcess(state.clickhouse.pid, 20_000);
  await removeStackState(options.dir);
  return true;
}
