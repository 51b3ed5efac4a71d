// A process the bench runs beside itself (a peer's JVM, a Sluice member): stdout read line by line (the
// peers report there), commands written to its stdin a line each, the last lines of stdout and stderr
// kept for error messages, and a stop that asks (SIGTERM), waits, then kills.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BenchPeerError } from './bench-peer-error.js';
import { javaArgs, type JavaProgram } from './java-peer-build.js';

const KEPT_LINES = 200;

export interface BenchProcess {
  /** Its process id (undefined when the program could not be started). */
  readonly pid: number | undefined;
  /** Its exit code (or the signal that ended it), once it has exited. */
  readonly exited: Promise<string>;
  /** Calls `listener` with every stdout line from now on. */
  onLine(listener: (line: string) => void): void;
  /** Writes `line` to its stdin (the Flink peer takes commands there); nothing once it has exited. */
  send(line: string): void;
  /** The last lines it wrote, stdout and stderr interleaved as they came. */
  output(): string;
  /** SIGTERM, then SIGKILL when it has not exited within `graceMs`. Resolves once it has exited. */
  stop(graceMs: number): Promise<void>;
  /** An error that says what failed, with the tail of the process's output. */
  failure(what: string): BenchPeerError;
}

/** A peer's JVM running `program`. */
export function startJvm(name: string, program: JavaProgram, args: readonly string[]): BenchProcess {
  return startBenchProcess(name, 'java', javaArgs(program, args));
}

/** Runs `command` with `args` (and `env` over this process's environment). */
export function startBenchProcess(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): BenchProcess {
  // stdin is a pipe that stays open: a peer may watch it to stop when this process dies.
  // A program that cannot be started is reported through 'error' below, as an exit.
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  // A command written as the process dies fails with EPIPE: its exit is reported through `exited`.
  child.stdin.on('error', () => undefined);
  const kept: string[] = [];
  const keep = (line: string) => {
    kept.push(line);
    if (kept.length > KEPT_LINES) kept.shift();
  };
  const listeners: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    keep(line);
    for (const listener of listeners) listener(line);
  });
  createInterface({ input: child.stderr }).on('line', keep);

  let hasExited = false;
  const exited = new Promise<string>((resolve) => {
    // 'close', not 'exit': by then stdout and stderr are read to their end.
    child.on('close', (code, signal) => {
      hasExited = true;
      resolve(signal ?? `exit code ${code}`);
    });
    child.on('error', (error) => {
      hasExited = true;
      keep(String(error));
      resolve(`failed: ${error.message}`);
    });
  });
  const output = () => kept.join('\n');

  return {
    pid: child.pid,
    exited,
    onLine: (listener) => listeners.push(listener),
    send: (line) => {
      if (!hasExited && child.stdin.writable) child.stdin.write(`${line}\n`);
    },
    output,
    failure: (what) =>
      new BenchPeerError(`${name} (pid ${child.pid ?? 'none'}): ${what}. Its last output:\n${output()}`),
    async stop(graceMs) {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves with the first stdout line matching `pattern`; rejects when the process exits first or time runs out. */
export function waitForLine(
  child: BenchProcess,
  pattern: RegExp,
  timeoutMs: number,
  waitingFor: string,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(child.failure(`no ${waitingFor} within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    child.onLine((line) => {
      const match = pattern.exec(line);
      if (settled || !match) return;
      settled = true;
      clearTimeout(timer);
      resolve(match);
    });
    void child.exited.then((how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(child.failure(`exited (${how}) before ${waitingFor}`));
    });
  });
}
