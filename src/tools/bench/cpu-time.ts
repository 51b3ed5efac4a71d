// CPU time of a bench run: the consumer's process time, user + system, over the span its rate is
// measured on. On a shared two-core machine wall-clock rates swing with whatever else runs (the broker,
// ClickHouse, a JVM's collector); the CPU a consumer spends per event is its own and far steadier. A
// child process (a peer's JVM) is read from /proc/<pid>/stat; the bench's own process (bare kafkajs,
// Sluice run in-process) from process.cpuUsage(), which also counts the bench's light polling.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { BenchPeerError } from './bench-peer-error.js';

/** Reads a process's CPU seconds so far. */
export type CpuMeter = () => Promise<number>;

let ticks: number | undefined;
/** The kernel's clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat's times. */
function ticksPerSecond(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/**
 * utime + stime of a /proc/<pid>/stat line, in seconds. The command name (field 2) is in parentheses
 * and may hold spaces, so fields are counted after its closing parenthesis: utime and stime are the
 * 14th and 15th fields, the 12th and 13th after it.
 */
export function cpuSecondsOfStat(stat: string, ticksPerSecondOfKernel: number): number {
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(after[11]);
  const stime = Number(after[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new BenchPeerError(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return (utime + stime) / ticksPerSecondOfKernel;
}

/** The CPU seconds of another process, from /proc. */
export function processCpu(pid: number): CpuMeter {
  return async () => cpuSecondsOfStat(await readFile(`/proc/${pid}/stat`, 'utf8'), ticksPerSecond());
}

/** The CPU seconds of this process. */
export const ownCpu: CpuMeter = () => {
  const { user, system } = process.cpuUsage();
  return Promise.resolve((user + system) / 1e6);
};

/** Starts counting; the returned function gives the CPU seconds spent since. */
export async function cpuSince(meter: CpuMeter): Promise<() => Promise<number>> {
  const start = await meter();
  return async () => (await meter()) - start;
}
