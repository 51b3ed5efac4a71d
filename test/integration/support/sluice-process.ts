// Runs `sluice run --config <file>` as a child process from the sources, as a user would run the CLI,
// so tests can stop it with a signal (or kill it) and watch its output.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface SluiceProcess {
  child: ChildProcess;
  output(): string;
  /**
   * Resolves as soon as output written from now on matches `pattern` (checked per chunk, on arrival,
   * so a test can act within milliseconds of a log line); rejects if the process exits first.
   */
  next(pattern: RegExp): Promise<void>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function writeConfig(pipeline: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-test-')), 'pipeline.yaml');
  writeFileSync(file, stringify(pipeline));
  return file;
}

export function startSluice(args: readonly string[], env: NodeJS.ProcessEnv = {}): SluiceProcess {
  // From dist/, built from the sources by the global setup: a process through tsx's loader took twice
  // as long to start (about 2 s of CPU), and the suite starts a hundred and more of them.
  const child = spawn(process.execPath, ['dist/cli/main.js', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, SLUICE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    next: (pattern) =>
      new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          if (!pattern.test(chunk.toString())) return;
          done();
          resolve();
        };
        const onExit = () => {
          done();
          reject(new Error(`the process exited before printing ${String(pattern)}`));
        };
        const done = () => {
          child.stdout?.off('data', onData);
          child.stderr?.off('data', onData);
          child.off('exit', onExit);
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('exit', onExit);
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runSluice(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  const process = startSluice(args, env);
  const code = await new Promise<number | null>((resolve) => process.child.once('exit', resolve));
  return { code, output: process.output() };
}
