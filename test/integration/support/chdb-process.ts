// The chdb front (chdb-front.ts) as a process of its own beside the stack: Sluice's processes and the
// tests reach the current ClickHouse engine over HTTP, as they reach a server.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts } from '../../../src/tools/stack/ports.js';
import { startDetached, stopProcess, waitUntilReady } from '../../../src/tools/stack/processes.js';

export interface ChdbFront {
  url: string;
  version: string;
  stop(): Promise<void>;
}

const FRONT = join(import.meta.dirname, 'chdb-front.ts');

export async function startChdbFront(dir: string): Promise<ChdbFront> {
  await mkdir(dir, { recursive: true });
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'chdb-front.log');
  const pid = startDetached(
    process.execPath,
    ['--import', 'tsx', FRONT, String(port), join(dir, 'data')],
    logFile,
    process.cwd(),
  );
  const ping = async () => (await fetch(`${url}/ping`)).ok;
  await waitUntilReady('the chdb front', pid, logFile, 60_000, ping);
  const response = await fetch(`${url}/?query=${encodeURIComponent('SELECT version()')}`);
  const version = `${(await response.text()).trim()} (chdb)`;
  return { url, version, stop: () => stopProcess(pid, 10_000) };
}
