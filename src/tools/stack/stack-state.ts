// The state file of a running local stack: which processes, ports and folders it uses. The CLI, the
// demo and the tests read it to find the stack; `stack down` reads it to stop exactly those processes.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { stackStateFile } from '../../config/local-stack-endpoints.js';

export interface KafkaState {
  pid: number;
  port: number;
  controllerPort: number;
  brokers: string;
  version: string;
  dataDir: string;
  logFile: string;
  /** The SASL_SSL listener (absent in state files of stacks started before it existed). */
  secure?: KafkaSecureState;
}

/** Where and how a client reaches the broker with SASL over TLS; the values the KAFKA_* variables take. */
export interface KafkaSecureState {
  brokers: string;
  port: number;
  protocol: string;
  mechanisms: string[];
  username: string;
  password: string;
  caFile: string;
}

export interface ClickHouseState {
  pid: number;
  httpPort: number;
  tcpPort: number;
  url: string;
  version: string;
  dataDir: string;
  logFile: string;
  /** A user with a password, besides the password-less \`default\` (absent in older state files). */
  credentials?: { username: string; password: string };
  /** The cluster this server is a replica of, and its replica name (a stack with replicas). */
  cluster?: string;
  replica?: string;
}

export interface ZooKeeperStackState {
  pid: number;
  port: number;
  version: string;
  dataDir: string;
  logFile: string;
}

export interface StackState {
  kafka: KafkaState;
  /** The ClickHouse server the stack's users are pointed at: the first replica, when there are several. */
  clickhouse: ClickHouseState;
  /** With `--clickhouse-replicas 2`: every replica (the first is `clickhouse`) and their ZooKeeper. */
  clickhouseReplicas?: ClickHouseState[];
  zookeeper?: ZooKeeperStackState;
  startedAt: string;
}

export async function readStackState(stackDir: string): Promise<StackState | undefined> {
  try {
    return JSON.parse(await readFile(stackStateFile(stackDir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

export async function writeStackState(stackDir: string, state: StackState): Promise<void> {
  await mkdir(stackDir, { recursive: true });
  await writeFile(stackStateFile(stackDir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeStackState(stackDir: string): Promise<void> {
  await rm(stackStateFile(stackDir), { force: true });
}
