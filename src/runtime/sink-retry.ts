// When to try a failing sink again. The runner polls its partitions on a tick rather than awaiting one
// call in a loop, so a retry library's wrapper does not fit; the schedule itself is this formula.
const SINK_RETRY_BASE_MS = 200;
const SINK_RETRY_MAX_MS = 10_000;

/** Exponential backoff (200 ms doubling) with jitter (×1 to ×2), capped at 10 s: the wait after `failures`. */
export function sinkRetryDelay(failures: number, random: () => number = Math.random): number {
  const exponential = Math.min(SINK_RETRY_MAX_MS, SINK_RETRY_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.min(SINK_RETRY_MAX_MS, exponential * (1 + random()));
}
