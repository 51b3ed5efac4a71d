// Whether a partition's silence is evidence that its log is quiet. A partition may count as idle only
// on what was learnt about that partition: its log end, fetched for it not long ago, at or below where
// this member has read it. Answers from other brokers, or an end that could not be fetched (its leader
// out of reach), confirm nothing, and neither does an end beyond the position (a backlog not yet read).
// Pure: samples and times in, a yes or no out.

export interface EndSample {
  end: bigint;
  /** When the request that learnt it was sent: the end held at least from then. */
  atMs: number;
}

/** How often to sample the partitions' ends, and how old a sample may be and still count. */
export function sampling(idleTimeoutMs: number): { everyMs: number; maxAgeMs: number } {
  // A leader lost right after a sample is noticed within maxAge; below idleTimeout, a partition that
  // was receiving records then cannot go idle before it is noticed.
  const everyMs = Math.min(5_000, Math.max(250, Math.floor(idleTimeoutMs / 4)));
  return { everyMs, maxAgeMs: 2 * everyMs };
}

export class IdleEvidence {
  private readonly ends = new Map<number, EndSample>();

  constructor(private readonly maxAgeMs: number) {}

  /**
   * The ends a sample sent at `atMs` learnt. Partitions it did not reach (a failed leader, a partition
   * without one) are left out, and keep their older sample until it is too old to count.
   */
  sampled(ends: ReadonlyMap<number, bigint>, atMs: number): void {
    for (const [partition, end] of ends) {
      const known = this.ends.get(partition);
      if (known === undefined || atMs >= known.atMs) this.ends.set(partition, { end, atMs });
    }
  }

  /**
   * True when the partition's end was fetched at most maxAge before `nowMs` and this member had read
   * it: `position` (the next offset to read) is at or past it. Undefined position: nothing read.
   */
  confirmsQuiet(partition: number, position: bigint | undefined, nowMs: number): boolean {
    const sample = this.ends.get(partition);
    if (sample === undefined || position === undefined) return false;
    return nowMs - sample.atMs <= this.maxAgeMs && sample.end <= position;
  }
}
