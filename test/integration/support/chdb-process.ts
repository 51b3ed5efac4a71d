// The chdb front (chdb-front.ts) as a process of its own beside the stack: Sluice's processes and the
// tests reach the current ClickHouse engine over HTTP, as they reach a server.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from '../../../src/tools/stack/ports.js';
import { startDetached, stopProcess, waitUntilReady } from '../../../src/tools/stack/processes.js';

export interface ChdbFront {
  url: string;
  version: string;
  stop(): Promise<void>;
}

const FRONT = join(import.meta.dirname, 'chdb-front.ts');
export const CHDB_VERSION = '3.4.0';

/**
 * chdb and its engine (about 550 MB) in a folder of their own, installed from the npm registry on first
 * use: only the runs on the current ClickHouse need them, so `npm ci` does not fetch them. (They cannot
 * be a development dependency either: the registry here serves only the Linux x64 engine, and npm's lock
 * file would want the other platforms' too.)
 */
async function installedChdb(): Promise<string> {
  const dir = join(process.cwd(), '.sluice', `chdb-${CHDB_VERSION}`);
  if (existsSync(join(dir, 'node_modules', 'chdb', 'package.json'))) return dir;
  await mkdir(dir, { recursive: true });
  console.log(
    `[stack] installing chdb ${CHDB_VERSION} (ClickHouse 26.x, about 550 MB) into ${dir} (first use only)`,
  );
  try {
    await promisify(execFile)(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', `chdb@${CHDB_VERSION}`],
      { timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    throw new Error(
      `npm could not install chdb@${CHDB_VERSION} into ${dir}: ${stderr.trim().split('\n').slice(-5).join('\n')}`,
    );
  }
  return dir;
}

export async function startChdbFront(dir: string): Promise<ChdbFront> {
  const chdb = await installedChdb();
  await mkdir(dir, { recursive: true });
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'chdb-front.log');
  const pid = startDetached(
    process.execPath,
    ['--import', 'tsx', FRONT, String(port), join(dir, 'data'), chdb],
    logFile,
    process.cwd(),
  );
  const ping = async () => (await fetch(`${url}/ping`)).ok;
  await waitUntilReady('the chdb front', pid, logFile, 60_000, ping);
  const response = await fetch(`${url}/?query=${encodeURIComponent('SELECT version()')}`);
  const version = `${(await response.text()).trim()} (chdb)`;
  return { url, version, stop: () => stopProcess(pid, 10_000) };
}
