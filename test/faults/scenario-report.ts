// What every fault scenario prints: events produced, windows expected and found, lost, doubled and
// wrong windows, dead letters, late events and the worker's peak RSS. The suite's expectation is zero
// lost, zero doubled, zero wrong; a scenario showing otherwise is a bug, not a figure.
import { readFileSync } from 'node:fs';
import Table from 'cli-table3';
import type { compareWindows } from '../integration/support/window-truth.js';

export interface ScenarioReport {
  scenario: string;
  produced: number;
  windowsExpected: number;
  windowsFound: number;
  lost: number;
  doubled: number;
  wrong: number;
  deadLetters: number;
  late: number;
  peakRssMiB: number;
}

/** Splits a comparison: windows counted too often are "doubled", other differences "wrong". */
export function tally(diff: ReturnType<typeof compareWindows>) {
  const doubled = diff.wrong.filter((w) => (w.found?.count ?? 0) > w.expected.count).length;
  return { lost: diff.lost.length, doubled: doubled + diff.extra.length, wrong: diff.wrong.length - doubled };
}

/** The peak resident memory of a process (VmHWM), in MiB; 0 once it is gone. */
export function peakRssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

export function printReport(report: ScenarioReport): void {
  const table = new Table({ style: { head: [], border: [] } });
  for (const [name, value] of Object.entries(report)) table.push({ [name]: String(value) });
  console.log(`\n${table.toString()}`);
}

/** Small in CI (`npm test`), full with `npm run faults` (SLUICE_FAULTS=full). */
export const FULL = process.env.SLUICE_FAULTS === 'full';
