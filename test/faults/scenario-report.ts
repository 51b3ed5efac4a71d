// What every fault scenario prints: events produced, windows expected and found, lost, doubled and
// wrong windows, dead letters, late events, the group's committed offsets against the topic's end and
// the worker's peak RSS. The suite's expectation is zero lost, zero doubled, zero wrong, every partition
// committed to the end; a scenario showing otherwise is a bug, not a figure.
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
  /** "3/3 partitions at the end", or "offsets behind: p1 1200 of 1500 (2/3 partitions at the end)". */
  committed: string;
  peakRssMiB: number;
  /** Scenario-specific lines: where the kills landed, how long the outage was. */
  [note: string]: string | number;
}

/** Splits a comparison: windows counted too often are "doubled", other differences "wrong". */
export function tally(diff: ReturnType<typeof compareWindows>) {
  const doubled = diff.wrong.filter((w) => (w.found?.count ?? 0) > w.expected.count).length;
  return { lost: diff.lost.length, doubled: doubled + diff.extra.length, wrong: diff.wrong.length - doubled };
}

export function printReport(report: ScenarioReport): void {
  const table = new Table({ style: { head: [], border: [] } });
  for (const [name, value] of Object.entries(report)) table.push({ [name]: String(value) });
  console.log(`\n${table.toString()}`);
}

/** Small in CI (`npm test`), full with `npm run faults` (SLUICE_FAULTS=full). */
export const FULL = process.env.SLUICE_FAULTS === 'full';
