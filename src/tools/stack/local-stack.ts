// `sluice stack up|status|down`: one Kafka broker and one ClickHouse server on free loopback ports,
// described by a state file. `up` is idempotent: a healthy running stack is returned as it is.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startClickHouse, type ClickHouseStartOptions } from './clickhouse-server.js';
import { checkedKafkaVersion, selectedKafkaVersion } from './kafka-release.js';
import { startKafka } from './kafka-server.js';
import { freePorts, isPortFree } from './ports.js';
import { isAlive, stopProcess } from './processes.js';
import { StackError } from './stack-error.js';
import {
  readStackState,
  removeStackState,
  writeStackState,
  type ClickHouseState,
  type StackState,
} from './stack-state.js';
import { startZooKeeper } from './zookeeper-server.js';

/** The cluster a stack with ClickHouse replicas defines: one shard, every replica in it. */
export const STACK_CLUSTER = 'sluice';

export interface StackOptions {
  dir: string;
  /** The Apache Kafka release; defaults to SLUICE_KAFKA_VERSION or the stack's default. */
  kafkaVersion?: string;
  /** ClickHouse servers: 1 (default), or 2 replicas of the cluster `sluice` with a ZooKeeper. */
  clickhouseReplicas?: number;
  log?: (line: string) => void;
}

export type StackHealth = 'running' | 'stopped' | 'degraded';

export interface StackStatus {
  health: StackHealth;
  state?: StackState;
  kafkaAlive: boolean;
  clickhouseAlive: boolean;
}

/** Every ClickHouse server of the stack: its replicas, or the one. */
export function clickhouseServersOf(state: StackState): ClickHouseState[] {
  return state.clickhouseReplicas ?? [state.clickhouse];
}

export async function stackStatus(dir: string): Promise<StackStatus> {
  const state = await readStackState(dir);
  if (!state) return { health: 'stopped', kafkaAlive: false, clickhouseAlive: false };
  const kafkaAlive = isAlive(state.kafka.pid);
  const clickhouseAlive =
    clickhouseServersOf(state).every((server) => isAlive(server.pid)) &&
    (state.zookeeper === undefined || isAlive(state.zookeeper.pid));
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
  const replicas = options.clickhouseReplicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 3)
    throw new StackError(
      `--clickhouse-replicas: expected 1, 2 or 3, found ${String(options.clickhouseReplicas)}`,
    );
  const current = await stackStatus(options.dir);
  if (current.health === 'running' && current.state) {
    // A running stack serves whoever asks without saying which one they want (the demo, the bench).
    const running = clickhouseServersOf(current.state).length;
    const versionAsked = options.kafkaVersion !== undefined || !!process.env.SLUICE_KAFKA_VERSION;
    const replicasAsked = options.clickhouseReplicas !== undefined;
    if (
      (versionAsked && current.state.kafka.version !== kafkaVersion) ||
      (replicasAsked && running !== replicas)
    ) {
      throw new StackError(
        `the stack in ${options.dir} runs Kafka ${current.state.kafka.version} with ${running} ClickHouse ` +
          `server(s), not Kafka ${kafkaVersion} with ${replicas}: stop it first ` +
          `(sluice stack down --dir ${options.dir}), or use another --dir`,
      );
    }
    return current.state;
  }
  if (current.health === 'degraded') await stackDown(options);

  const [kafkaPort, controllerPort, securePort, zookeeperPort] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  const kafkaDir = join(options.dir, 'kafka');
  await mkdir(kafkaDir, { recursive: true });
  const zookeeper =
    replicas > 1
      ? await startZooKeeper({ dir: join(options.dir, 'zookeeper'), port: zookeeperPort, log })
      : undefined;
  const servers = await planClickHouseServers({
    dir: options.dir,
    count: replicas,
    ...(zookeeper ? { zookeeperPort: zookeeper.port } : {}),
    firstHttpPort: await chosenPort('SLUICE_CLICKHOUSE_PORT', 0),
    log,
  });

  // Start the servers at once: a cold start then costs the slowest, not the sum.
  const [kafka, ...clickhouse] = await Promise.allSettled([
    startKafka({
      dir: kafkaDir,
      port: await chosenPort('SLUICE_KAFKA_PORT', kafkaPort),
      controllerPort,
      securePort,
      version: kafkaVersion,
      log,
    }),
    ...servers.map((server) => startClickHouse(server)),
  ]);
  const started = [kafka, ...clickhouse].filter((r) => r.status === 'fulfilled');
  const failed = [kafka, ...clickhouse].filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    for (const r of started) await stopProcess(r.value.pid, 15_000);
    if (zookeeper) await stopProcess(zookeeper.pid, 15_000);
    const reasons = failed.map((r) => r.reason as unknown);
    throw reasons.length === 1 ? reasons[0] : new AggregateError(reasons, 'the local stack did not start');
  }
  const fulfilled = <T>(r: PromiseSettledResult<T>) => (r as PromiseFulfilledResult<T>).value;
  const clickhouseStates = clickhouse.map(fulfilled);
  const state: StackState = {
    kafka: fulfilled(kafka),
    clickhouse: clickhouseStates[0]!,
    ...(zookeeper ? { clickhouseReplicas: clickhouseStates, zookeeper } : {}),
    startedAt: new Date().toISOString(),
  };
  await writeStackState(options.dir, state);
  return state;
}

/**
 * The ClickHouse servers of a stack in `dir`: one (folder `clickhouse`), or `count` replicas of one
 * shard of the cluster STACK_CLUSTER (folders `clickhouse-r<n>`, replica names `r<n>`) coordinated by
 * the ZooKeeper at `zookeeperPort`. Ports are free ones; `firstHttpPort` pins the first server's.
 */
export async function planClickHouseServers(options: {
  dir: string;
  count: number;
  zookeeperPort?: number;
  firstHttpPort?: number;
  log?: (line: string) => void;
}): Promise<ClickHouseStartOptions[]> {
  const { count, zookeeperPort } = options;
  // Per server: HTTP, native TCP and (replicas) interserver ports.
  const ports = await freePorts(3 * count);
  const tcpPorts = Array.from({ length: count }, (_, i) => ports[3 * i + 1]!);
  const servers: ClickHouseStartOptions[] = [];
  for (let i = 0; i < count; i += 1) {
    // One server keeps the folder it always had; replicas get a folder each.
    const dir = count === 1 ? join(options.dir, 'clickhouse') : join(options.dir, `clickhouse-r${i + 1}`);
    await mkdir(dir, { recursive: true });
    servers.push({
      dir,
      httpPort: i === 0 && options.firstHttpPort ? options.firstHttpPort : ports[3 * i]!,
      tcpPort: tcpPorts[i]!,
      ...(zookeeperPort !== undefined && count > 1
        ? {
            replication: {
              cluster: STACK_CLUSTER,
              zookeeperPort,
              replicaTcpPorts: tcpPorts,
              replica: `r${i + 1}`,
              interserverPort: ports[3 * i + 2]!,
            },
          }
        : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  }
  return servers;
}

/** Stops the stack's processes (Kafka first, so it can still write its final state), keeping data. */
export async function stackDown(options: StackOptions): Promise<boolean> {
  const state = await readStackState(options.dir);
  if (!state) return false;
  await stopProcess(state.kafka.pid, 20_000);
  for (const server of clickhouseServersOf(state)) await stopProcess(server.pid, 20_000);
  if (state.zookeeper) await stopProcess(state.zookeeper.pid, 20_000);
  await removeStackState(options.dir);
  return true;
}
