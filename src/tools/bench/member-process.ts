// One Sluice member of the scale-out run: `sluice run --config <file>` as a child process, as a user
// runs it, serving its operations endpoints on a port of its own; the bench reads its /status over
// HTTP and its process's CPU from /proc, and stops it with SIGTERM as Kubernetes would.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Pipeline } from '../../config/schema.js';
import { BenchPeerError } from './bench-peer-error.js';
import { startBenchProcess, type BenchProcess } from './bench-process.js';
import { processCpu, type CpuMeter } from './cpu-time.js';
import type { MemberStatusBody } from './scale-out-figures.js';

export interface MemberProcess {
  readonly pid: number;
  readonly port: number;
  readonly process: BenchProcess;
  /** Its /status; undefined while it does not serve yet (starting, joining). */
  status(): Promise<MemberStatusBody | undefined>;
  /** Its process's CPU seconds (user + system) so far. */
  readonly cpu: CpuMeter;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<void>;
}

/**
 * The command that runs this CLI as it was itself started: the members run the same build (dist/
 * under `npm run bench`, the sources under tsx when a test runs the CLI that way).
 */
export function thisSluiceCommand(): string[] {
  const main = process.argv[1];
  if (main === undefined)
    throw new BenchPeerError('no script in process.argv: pass the member command explicitly');
  return [process.execPath, ...process.execArgv, main];
}

/** Writes the pipeline as a member's YAML config, serving its endpoints on `port` of the loopback. */
export async function writeMemberConfig(
  pipeline: Pipeline,
  port: number,
  dir: string,
  member: number,
): Promise<string> {
  const file = join(dir, `member-${member}.yaml`);
  await writeFile(file, stringify({ ...pipeline, http: { enabled: true, host: '127.0.0.1', port } }));
  return file;
}

export function startMember(
  name: string,
  command: readonly string[],
  configFile: string,
  port: number,
  env: NodeJS.ProcessEnv,
): MemberProcess {
  const [program, ...args] = command;
  if (program === undefined) throw new BenchPeerError('empty member command');
  const child = startBenchProcess(name, program, [...args, 'run', '--config', configFile], env);
  if (child.pid === undefined) throw child.failure('did not start');
  let exited = false;
  void child.exited.then(() => (exited = true));
  return {
    pid: child.pid,
    port,
    process: child,
    cpu: processCpu(child.pid),
    hasExited: () => exited,
    async status() {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/status`, {
          signal: AbortSignal.timeout(15_000),
        });
        return response.ok ? ((await response.json()) as MemberStatusBody) : undefined;
      } catch {
        return undefined;
      }
    },
    stop: (graceMs) => child.stop(graceMs),
  };
}
