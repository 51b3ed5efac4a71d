// What a worker's log says about its failed commits: how many, how many fenced, and which errors, for
// the commit-failure scenarios' reports (kafkajs' state-machine errors are the symptom of a jam).
export interface CommitFailures {
  /** "commit failed; retrying with the next one" lines. */
  failed: number;
  /** "fenced by a newer owner; dropping the partition" lines. */
  fenced: number;
  /** The distinct errors of those lines, most frequent first, as `count× message`. */
  errors: string[];
}

const FAILED = 'commit failed; retrying with the next one';
const FENCED = 'fenced by a newer owner; dropping the partition';

export function commitFailures(output: string): CommitFailures {
  const counts = new Map<string, number>();
  let failed = 0;
  let fenced = 0;
  for (const line of output.split('\n')) {
    const isFailed = line.includes(`"msg":"${FAILED}"`);
    const isFenced = line.includes(`"msg":"${FENCED}"`);
    if (!isFailed && !isFenced) continue;
    if (isFailed) failed += 1;
    else fenced += 1;
    let err = '?';
    try {
      const parsed = JSON.parse(line) as { err?: unknown };
      err = typeof parsed.err === 'string' ? parsed.err : JSON.stringify(parsed.err ?? '?');
    } catch {
      // a line cut short: counted, not described
    }
    const key = `${isFenced ? 'fenced: ' : ''}${err.slice(0, 90)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const errors = [...counts].sort((a, b) => b[1] - a[1]).map(([err, n]) => `${n}× ${err}`);
  return { failed, fenced, errors };
}

/** The report lines of a scenario that cares about commits. */
export function commitNotes(output: string): Record<string, string | number> {
  const log = commitFailures(output);
  const notes: Record<string, string | number> = {
    'commit failures logged': log.failed,
    'fenced partitions dropped': log.fenced,
  };
  log.errors.slice(0, 4).forEach((e, i) => (notes[`commit error ${i + 1}`] = e));
  return notes;
}
