// Starting and stopping the stack's server processes: detached, so they outlive the command that
// started them; logs to files; and waits with a deadline that report the log's tail when they fail.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from './stack-error.js';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts a long-running server in its own process group, with stdout and stderr appended to `logFile`. */
export function startDetached(
  command: string,
  args: readonly string[],
  logFile: string,
  cwd: string,
): number {
  const log = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', log, log] });
    if (child.pid === undefined) throw new StackError(`could not start ${command}: no process was created`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export async function logTail(logFile: string, lines = 25): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

/**
 * Polls `ready` until it returns true, failing with the log's tail when the process dies or the
 * deadline passes.
 */
export async function waitUntilReady(
  name: string,
  pid: number,
  logFile: string,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      throw new StackError(
        `${name} exited during start-up. Last lines of ${logFile}:\n${await logTail(logFile)}`,
      );
    }
    if (await ready().catch(() => false)) return;
    await sleep(200);
  }
  throw new StackError(
    `${name} did not come up within ${timeoutMs / 1000}s. Last lines of ${logFile}:\n${await logTail(logFile)}`,
  );
}

/** SIGTERM to the process group, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProcess(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  if (!isAlive(pid)) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  signal('SIGKILL');
  while (isAlive(pid)) await sleep(50);
}
