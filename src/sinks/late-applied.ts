// A row's `late_applied` column: which late events `sluice late replay` has merged into it, as the
// highest late-topic offset per late-topic partition (`0:57,3:12`). The replay reads each partition of
// the late topic in offset order, so a record at or below its partition's mark was merged before (a run
// that inserted the row but crashed before committing its progress): merging it again would double it.
/** Partition → the highest late-topic offset merged into the row. */
export type LateApplied = ReadonlyMap<number, bigint>;

/** The marks of a row's column; undefined when it is not of that form (written by something else). */
export function parseLateApplied(text: string | null | undefined): LateApplied | undefined {
  const marks = new Map<number, bigint>();
  for (const part of (text ?? '').split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const match = /^(\d+):(\d+)$/.exec(entry);
    if (!match) return undefined;
    const partition = Number(match[1]);
    const offset = BigInt(match[2]!);
    const before = marks.get(partition);
    if (before === undefined || offset > before) marks.set(partition, offset);
  }
  return marks;
}

/** In partition order, so the same marks always read the same. */
export function formatLateApplied(marks: LateApplied): string {
  return [...marks]
    .sort(([a], [b]) => a - b)
    .map(([partition, offset]) => `${partition}:${offset}`)
    .join(',');
}

/** Whether the late record at (partition, offset) was merged into the row already. */
export function lateAppliedCovers(marks: LateApplied, partition: number, offset: bigint): boolean {
  const mark = marks.get(partition);
  return mark !== undefined && offset <= mark;
}

/** The marks once the late record at (partition, offset) is merged in. */
export function withLateApplied(marks: LateApplied, partition: number, offset: bigint): LateApplied {
  const next = new Map(marks);
  const mark = next.get(partition);
  if (mark === undefined || offset > mark) next.set(partition, offset);
  return next;
}
