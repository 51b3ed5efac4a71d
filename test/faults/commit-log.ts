// What a worker's log says about its failed commits: how many, how many fenced, and which errors, for
// the commit-failure scenarios' reports (kafkajs' state-machine errors are the symptom of a jam). It
// reads the runner's lines before and after failed commits led back to the last checkpoint.
export interface CommitFailures {
  /** Failed commits: retried with the next one, or recovered from the last checkpoint. */
  failed: number;
  /** Of those, fenced ones (dropped, or recovered with `"fenced":true`). */
  fenced: number;
  /** The distinct errors of those lines, most frequent first, as `count× message`. */
  errors: string[];
}

const FAILED = [
  'commit failed; retrying with the next one',
  'commit failed; restoring the partition from its last checkpoint with a new producer',
];
const FENCED = 'fenced by a newer owner; dropping the partition';

export function commitFailures(output: string): CommitFailures {
  const counts = new Map<string, number>();
  let failed = 0;
  let fenced = 0;
  for (const line of output.split('\n')) {
    const isFailed = FAILED.some((msg) => line.includes(`"msg":"${msg}"`));
    const isFenced = line.includes(`"msg":"${FENCED}"`) || (isFailed && line.includes('"fenced":true'));
    if (!isFailed && !isFenced) continue;
    failed += 1;
    if (isFenced) fenced += 1;
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
    'of which fenced': log.fenced,
  };
  log.errors.slice(0, 4).forEach((e, i) => (notes[`commit error ${i + 1}`] = e));
  return notes;
}
