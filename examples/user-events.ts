// The user-events pipeline in TypeScript, with a custom enrich stage: it derives the device class
// from the user agent, the site section from the URL and the sales region from the country, and the
// windows group by what it adds. Run it with the local stack up and events flowing:
//
//   npm run build && npx sluice stack up
//   npx sluice produce --topic user-events --partitions 4 --rate 200 &
//   npx tsx examples/user-events.ts
//
// In your own project, `npm install sluice` and import from 'sluice' the same way.
import { pathToFileURL } from 'node:url';
import { definePipeline, run, type StageRecord } from 'sluice';

interface UserEvent {
  eventId: string;
  type: string;
  userId: string;
  url?: string;
  userAgent?: string;
  country?: string;
  value?: number;
  timestamp: number;
}

export interface EnrichedEvent extends UserEvent {
  device: 'mobile' | 'desktop' | 'bot';
  section: string;
  region: string;
}

const REGIONS: Record<string, string> = {
  US: 'americas',
  CA: 'americas',
  BR: 'americas',
  DE: 'emea',
  FR: 'emea',
  GB: 'emea',
  IN: 'apac',
  JP: 'apac',
};

/**
 * The custom stage: pure and synchronous here; a processor may also be async (a lookup, say). Its
 * input is what the stage before produced: here the parsed event, which has been validated.
 */
export function enrich(record: StageRecord): EnrichedEvent {
  const event = record.value as UserEvent;
  const agent = event.userAgent ?? '';
  const device = /bot|crawler|spider/i.test(agent)
    ? 'bot'
    : /Mobile|Android|iPhone/.test(agent)
      ? 'mobile'
      : 'desktop';
  const section = (event.url ?? '/').split('/')[1] || 'home';
  return { ...event, device, section, region: REGIONS[event.country ?? ''] ?? 'other' };
}

export const pipeline = definePipeline({
  name: 'user_events_ts',
  // Keyed by user (as `sluice produce` writes it): sessions computed in place, the rest re-keyed.
  source: { topic: 'user-events', fromBeginning: true, keyedBy: ['userId'] },
  parse: { events: 'user-event' },
  time: { field: 'timestamp', maxOutOfOrderness: '5s', grace: '2s', idleTimeout: '10s' },
  processing: { guarantee: 'exactly-once', commitInterval: '1s' },
  stages: [
    { name: 'enrich', process: enrich, onError: 'dead-letter' },
    // Bots do not count.
    { name: 'humans', type: 'filter', field: 'device', in: ['mobile', 'desktop'] },
  ],
  windows: [
    {
      name: 'events_by_section_1m',
      type: 'tumbling',
      size: '1m',
      groupBy: ['type', 'section'],
      aggregations: [{ fn: 'sum', field: 'value' }],
    },
    {
      name: 'region_device_5m',
      type: 'sliding',
      size: '5m',
      advance: '1m',
      groupBy: ['region', 'device'],
      aggregations: [{ fn: 'count_distinct', field: 'userId' }],
    },
    {
      name: 'sessions_by_device',
      type: 'session',
      gap: '30s',
      groupBy: ['userId', 'device'],
      aggregations: [{ fn: 'sum', field: 'value' }],
      emit: { mode: 'update', every: '5s' },
    },
  ],
  sinks: { clickhouse: { database: 'sluice' } },
});

// Run when executed, not when imported (the tests import `enrich` and `pipeline`).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const running = await run(pipeline);
  const stop = () => void running.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await running.done;
}
