// Synthetic user events for the demo and tests: a seeded, repeatable mix of page views and clicks
// over a few URLs and users, in event-time order across a span, each up to `jitterMs` out of order
// (as real producers deliver them: mostly in order, a little shuffled).

export interface SampleEvent {
  eventId: string;
  type: 'page_view' | 'click' | 'add_to_cart';
  userId: string;
  sessionId: string;
  url: string;
  timestamp: number;
  /** An amount (cents in a cart, seconds on a page): something to sum and average. */
  value: number;
}

const URLS = ['/', '/pricing', '/docs', '/docs/windows', '/blog', '/signup'];
const TYPES: SampleEvent['type'][] = ['page_view', 'page_view', 'page_view', 'click', 'click', 'add_to_cart'];

/** mulberry32: a tiny seeded generator, so a seed reproduces the same stream. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function sampleEvents(
  count: number,
  fromMs: number,
  spanMs: number,
  seed = 1,
  jitterMs = 2_000,
): SampleEvent[] {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return Array.from({ length: count }, (_, i) => {
    const user = Math.floor(next() * 50);
    return {
      eventId: `evt-${seed}-${i}`,
      type: pick(TYPES),
      userId: `user-${user}`,
      sessionId: `session-${user}-${Math.floor(next() * 3)}`,
      url: pick(URLS),
      timestamp:
        fromMs +
        Math.min(spanMs - 1, Math.max(0, Math.floor((i * spanMs) / count + (next() - 0.5) * 2 * jitterMs))),
      value: Math.floor(next() * 100),
    };
  });
}
