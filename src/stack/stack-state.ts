// The state file of a running local stack: which processes, ports and folders it uses. The CLI, the
// demo and the tests read it to find the stack; `stack down` reads it to stop exactly those processes.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface KafkaState {
  pid: number;
  port: number;
  controllerPort: number;
  brokers: string;
  version: string;
  dataDir: string;
  logFile: string;
}

export interface ClickHouseState {
  pid: number;
  httpPort: number;
  tcpPort: number;
  url: string;
  version: string;
  dataDir: string;
  logFile: string;
}

export interface StackState {
  kafka: KafkaState;
  clickhouse: ClickHouseState;
  startedAt: string;
}

export function stateFile(stackDir: string): string {
  return join(stackDir, 'state.json');
}

export async function readStackState(stackDir: string): Promise<StackState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(stackDir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

export async function writeStackState(stackDir: string, state: StackState): Promise<void> {
  await mkdir(stackDir, { recursive: true });
  await writeFile(stateFile(stackDir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeStackState(stackDir: string): Promise<void> {
  await rm(stateFile(stackDir), { force: true });
}
