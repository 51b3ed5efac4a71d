// kafkajs' request queue under the fix of kafkajs-timers.ts: it schedules its looks at pending requests
// as kafkajs did (when a throttle ends; after the usual interval while requests wait; at once otherwise)
// and never with a negative delay, which Node 24 warns about on stderr.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PENDING_CHECK_INTERVAL_MS,
  pendingCheckDelay,
  requestQueueTimersFixed,
} from '../../../src/source/kafkajs-timers.js';

const require = createRequire(import.meta.url);

interface Queue {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  scheduleCheckPendingRequests(): void;
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (options: object) => Queue;

function queue(): Queue {
  const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  return new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 1_000,
    clientId: 't',
    broker: 'b',
    logger,
  });
}

/** The delay kafkajs' queue asks setTimeout for. */
function scheduledDelay(q: Queue): number {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  try {
    q.scheduleCheckPendingRequests();
    expect(spy).toHaveBeenCalledTimes(1);
    return spy.mock.calls[0]![1]!;
  } finally {
    spy.mockRestore();
    if (q.throttleCheckTimeoutId) clearTimeout(q.throttleCheckTimeoutId);
  }
}

describe("kafkajs' request queue timers", () => {
  afterEach(() => vi.useRealTimers());

  it('is installed into the kafkajs this project uses', () => {
    expect(requestQueueTimersFixed).toBe(true);
  });

  it('schedules at once when idle, after the interval while requests wait, at the end of a throttle', () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    const idle = queue();
    expect(scheduledDelay(idle)).toBe(0);
    const waiting = queue();
    waiting.pending.push({});
    expect(scheduledDelay(waiting)).toBe(PENDING_CHECK_INTERVAL_MS);
    const throttled = queue();
    throttled.throttledUntil = 1_000_250;
    expect(scheduledDelay(throttled)).toBe(250);
    // One look at a time: a second call while one is scheduled schedules nothing.
    const twice = queue();
    const spy = vi.spyOn(globalThis, 'setTimeout');
    twice.scheduleCheckPendingRequests();
    twice.scheduleCheckPendingRequests();
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    clearTimeout(twice.throttleCheckTimeoutId!);
  });

  it('never asks for a negative delay', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: 2 ** 42 }),
        fc.nat(5),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (until, pending, now) => {
          const delay = pendingCheckDelay(until, pending, now);
          expect(delay).toBeGreaterThanOrEqual(0);
          if (until > now) expect(delay).toBe(until - now);
        },
      ),
    );
  });
});
