// kafkajs 2.2.4 schedules its request queue's next look at pending requests `throttledUntil - now`
// milliseconds ahead; unthrottled with nothing pending, that is a large negative number (throttledUntil
// starts at -1), which Node always ran at once. Node 24 runs it at once too, but prints a
// TimeoutNegativeWarning to stderr the first time: every `sluice` command on Node 24 began with three
// lines of warning an operator could take for a fault.
//
// This replaces the method (a prototype method, so the order kafkajs and Sluice load in does not matter)
// with one that decides the same three cases and never asks for a negative delay: throttled, when the
// throttle ends; else, with requests waiting, after the queue's usual interval; else at once.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface RequestQueueState {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

interface RequestQueueClass {
  prototype: RequestQueueState & { scheduleCheckPendingRequests(this: RequestQueueState): void };
  [PATCHED]?: true;
}

const PATCHED = Symbol.for('sluice.requestQueueTimers');
/** kafkajs' interval between looks at a queue whose requests wait (CHECK_PENDING_REQUESTS_INTERVAL). */
export const PENDING_CHECK_INTERVAL_MS = 10;

/** The delay before a queue looks at its pending requests again: never negative. */
export function pendingCheckDelay(throttledUntil: number, pending: number, now: number): number {
  const throttledFor = throttledUntil - now;
  if (throttledFor > 0) return throttledFor;
  return pending > 0 ? PENDING_CHECK_INTERVAL_MS : 0;
}

function install(): boolean {
  try {
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
    if (RequestQueue[PATCHED]) return true;
    if (typeof RequestQueue.prototype.scheduleCheckPendingRequests !== 'function') return false;
    RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests() {
      // One look scheduled at a time: it schedules the next itself if need be.
      if (this.throttleCheckTimeoutId) return;
      this.throttleCheckTimeoutId = setTimeout(
        () => {
          this.throttleCheckTimeoutId = null;
          this.checkPendingRequests();
        },
        pendingCheckDelay(this.throttledUntil, this.pending.length, Date.now()),
      );
    };
    RequestQueue[PATCHED] = true;
    return true;
  } catch {
    // Another kafkajs than the one this was written for: left as it is (a warning on Node 24, no harm).
    return false;
  }
}

/** True once kafkajs' request queues schedule no negative timeouts. */
export const requestQueueTimersFixed: boolean = install();
