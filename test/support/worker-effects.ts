// A partition worker's side effects for unit tests that check what it computes, not what it writes:
// every side write is durable at once, and an abort throws (a test that meets one fails with its error).
import type { WorkerEffects } from '../../src/runtime/partition-worker.js';

export function durableEffects(): WorkerEffects {
  return {
    deadLetter: () => Promise.resolve(),
    overflow: () => Promise.resolve(),
    late: () => Promise.resolve(),
    keyCapped: () => Promise.resolve(),
    abort: (error) => {
      throw error;
    },
  };
}
