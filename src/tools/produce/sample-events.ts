// Synthetic user events for the demo, `sluice produce` and tests: a seeded, repeatable stream of
// sessions. Each of a pool of users keeps a device (user agent, IP, country); a session starts with a
// page view from a referrer and goes on with page views, clicks, add-to-carts and the odd purchase,
// and ends after half an hour of inactivity. Events come in event-time order across a span, each up
// to `jitterMs` out of order (as real producers deliver them: mostly in order, a little shuffled).

export type EventType = 'page_view' | 'click' | 'add_to_cart' | 'purchase';

export interface SampleEvent {
  eventId: string;
  type: EventType;
  userId: string;
  sessionId: string;
  url: string;
  /** Where the session came from; absent on direct visits and after the session's first page. */
  referrer?: string;
  userAgent: string;
  ip: string;
  country: string;
  timestamp: number;
  /** An amount: seconds on a page, cents in a cart or a purchase. Something to sum and average. */
  value: number;
  properties: Record<string, string>;
}

const URLS = ['/', '/pricing', '/docs', '/docs/windows', '/blog', '/signup'];
const REFERRERS = [
  'https://www.google.com/',
  'https://news.ycombinator.com/',
  'https://twitter.com/',
  undefined,
];
const COUNTRIES = ['US', 'US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP'];

/** The region of every country the sample events use: a lookup table for enrichment demos and tests. */
export const SAMPLE_REGIONS: Readonly<Record<string, string>> = {
  US: 'americas',
  BR: 'americas',
  DE: 'emea',
  FR: 'emea',
  GB: 'emea',
  IN: 'apac',
  JP: 'apac',
};
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];
/** After a session's first page view: mostly browsing and clicking, sometimes a cart, rarely a purchase. */
const NEXT_TYPES: EventType[] = [
  ...Array<EventType>(10).fill('page_view'),
  ...Array<EventType>(6).fill('click'),
  ...Array<EventType>(3).fill('add_to_cart'),
  'purchase',
];
const SESSION_TIMEOUT_MS = 30 * 60_000;
const USERS = 50;

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

interface UserState {
  userAgent: string;
  ip: string;
  country: string;
  session: number;
  lastSeen: number;
  page: string;
  /** Events left in the current session; then the user is away until `awayUntil`. */
  left: number;
  awayUntil: number;
}

/**
 * An endless seeded stream of user events: the `i`-th event's time is `timeOf(i)` (plus jitter).
 * `sampleEvents` takes a finite span of it; `sluice produce` a live one at wall-clock time.
 */
export function* userEventStream(
  seed: number,
  timeOf: (i: number) => number,
  jitterMs = 2_000,
  userCount = USERS,
): Generator<SampleEvent> {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const users = new Map<number, UserState>();
  for (let i = 0; ; i += 1) {
    const timestamp = Math.max(0, Math.floor(timeOf(i) + (next() - 0.5) * 2 * jitterMs));
    // Someone who is not away (a few tries; in a small pool everyone may be, then one comes back early).
    let n = Math.floor(next() * userCount);
    for (let tries = 0; tries < 4 && (users.get(n)?.awayUntil ?? 0) > timestamp; tries += 1)
      n = Math.floor(next() * userCount);
    let user = users.get(n);
    if (!user) {
      user = {
        userAgent: pick(USER_AGENTS),
        ip: `203.0.${113 + (n % 3)}.${((n * 37) % 254) + 1}`,
        country: pick(COUNTRIES),
        session: -1,
        lastSeen: -Infinity,
        page: '/',
        left: 0,
        awayUntil: 0,
      };
      users.set(n, user);
    }
    const fresh = timestamp - user.lastSeen > SESSION_TIMEOUT_MS || user.left <= 0;
    if (fresh) {
      user.session += 1;
      // Sessions of about 8 events (geometric), then 1 to 15 minutes away.
      user.left = 1 + Math.floor(-Math.log(1 - next()) * 8);
    }
    user.left -= 1;
    if (user.left <= 0) user.awayUntil = timestamp + 60_000 + Math.floor(next() * 14 * 60_000);
    user.lastSeen = Math.max(user.lastSeen, timestamp);
    const type: EventType = fresh ? 'page_view' : pick(NEXT_TYPES);
    if (type === 'page_view') user.page = pick(URLS);
    const referrer = fresh ? pick(REFERRERS) : undefined;
    const value =
      type === 'add_to_cart'
        ? 500 + Math.floor(next() * 19_500)
        : type === 'purchase'
          ? 2_000 + Math.floor(next() * 48_000)
          : Math.floor(next() * 100);
    const properties: Record<string, string> =
      type === 'click' ? { element: pick(['cta', 'nav', 'footer', 'card']) } : {};
    yield {
      eventId: `evt-${seed}-${i}`,
      type,
      userId: `user-${n}`,
      sessionId: `session-${n}-${user.session}`,
      url: user.page,
      ...(referrer === undefined ? {} : { referrer }),
      userAgent: user.userAgent,
      ip: user.ip,
      country: user.country,
      timestamp,
      value,
      properties,
    };
  }
}

/** `count` events with event times spread evenly over [fromMs, fromMs + spanMs). */
export function sampleEvents(
  count: number,
  fromMs: number,
  spanMs: number,
  seed = 1,
  jitterMs = 2_000,
  users = USERS,
): SampleEvent[] {
  const events: SampleEvent[] = [];
  const stream = userEventStream(seed, (i) => fromMs + (i * spanMs) / count, jitterMs, users);
  for (const event of stream) {
    event.timestamp = Math.min(fromMs + spanMs - 1, Math.max(fromMs, event.timestamp));
    events.push(event);
    if (events.length >= count) break;
  }
  return events;
}
