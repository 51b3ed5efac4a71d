// What `sluice demo` shows while it runs: the pipeline's health (throughput, lag, paused partitions,
// watermarks, late events and dead letters, from the running pipeline) and the aggregates landing in
// ClickHouse (plain SELECTs from the windows' views: one row per window and key), as terminal tables.
import type { ClickHouseClient } from '@clickhouse/client';
import Table from 'cli-table3';
import type { Pipeline } from '../../config/schema.js';
import type { PipelineStatus } from '../../runtime/member-status.js';
import type { ProduceTotals } from '../produce/paced-producer.js';

export interface Aggregates {
  /** Per closed minute (newest first): events per event type. */
  minutes: { minute: string; byType: Record<string, number> }[];
  /** The newest sliding window: events per country. */
  countries: { window: string; rows: { country: string; events: number }[] };
  sessions: { sessions: number; avgEvents: number; avgSeconds: number };
}

export interface Sample {
  at: number;
  produced: ProduceTotals;
  status: PipelineStatus;
}

const TYPES = ['page_view', 'click', 'add_to_cart', 'purchase'];

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/** The demo's three windows, by type: tumbling per (type, url), sliding per country, sessions per user. */
export async function queryAggregates(client: ClickHouseClient, pipeline: Pipeline): Promise<Aggregates> {
  const db = pipeline.sinks.clickhouse.database;
  const [tumbling, sliding, session] = (['tumbling', 'sliding', 'session'] as const).map((type) =>
    pipeline.windows.find((w) => w.type === type),
  );
  const minutes = tumbling
    ? await rows<{ minute: string; type: string; events: string }>(
        client,
        `SELECT toString(window_start) AS minute, type, sum(count) AS events
         FROM ${db}.${tumbling.name}
         WHERE window_start >= (SELECT max(window_start) FROM ${db}.${tumbling.name}) - 240
         GROUP BY window_start, type ORDER BY window_start DESC`,
      )
    : [];
  const byMinute = new Map<string, Record<string, number>>();
  for (const r of minutes) {
    const entry = byMinute.get(r.minute) ?? {};
    entry[r.type] = Number(r.events);
    byMinute.set(r.minute, entry);
  }
  const countryRows = sliding
    ? await rows<{ window: string; country: string; events: string }>(
        client,
        `SELECT concat(toString(window_start), ' – ', toString(window_end)) AS window, country,
                count AS events
         FROM ${db}.${sliding.name}
         WHERE window_start = (SELECT max(window_start) FROM ${db}.${sliding.name})
         ORDER BY events DESC LIMIT 6`,
      )
    : [];
  const [sessionRow] = session
    ? await rows<{ sessions: string; events: string; seconds: string }>(
        client,
        `SELECT count() AS sessions, avg(count) AS events, avg(window_end_ms - window_start_ms) / 1000 AS seconds
         FROM ${db}.${session.name}
         WHERE window_end >= (SELECT max(window_end) FROM ${db}.${session.name}) - 600`,
      )
    : [];
  return {
    minutes: [...byMinute].slice(0, 4).map(([minute, byType]) => ({ minute, byType })),
    countries: {
      window: countryRows[0]?.window ?? '',
      rows: countryRows.map((r) => ({ country: r.country, events: Number(r.events) })),
    },
    sessions: {
      sessions: Number(sessionRow?.sessions ?? 0),
      avgEvents: Number(sessionRow?.events ?? 0),
      avgSeconds: Number(sessionRow?.seconds ?? 0),
    },
  };
}

function totals(status: PipelineStatus) {
  const sum = (pick: (p: PipelineStatus['partitions'][number]) => number) =>
    status.partitions.reduce((n, p) => n + pick(p), 0);
  return {
    completed: sum((p) => p.completed + p.filtered),
    lag: sum((p) => p.lag ?? 0),
    late: sum((p) => p.late),
    deadLettered: sum((p) => p.deadLettered),
  };
}

const n = (value: number) => Math.round(value).toLocaleString('en-US');

/** Rates between two samples, per second. */
function rates(now: Sample, before: Sample | undefined) {
  if (!before || now.at <= before.at) return { produced: 0, processed: 0 };
  const seconds = (now.at - before.at) / 1000;
  return {
    produced: (now.produced.sent - before.produced.sent) / seconds,
    processed: (totals(now.status).completed - totals(before.status).completed) / seconds,
  };
}

export function renderScreen(options: {
  pipeline: Pipeline;
  startedAt: number;
  now: Sample;
  before: Sample | undefined;
  aggregates: Aggregates | undefined;
  clickhouseError?: string;
}): string {
  const { now, aggregates, pipeline } = options;
  const t = totals(now.status);
  const r = rates(now, options.before);
  const up = Math.round((now.at - options.startedAt) / 1000);
  const paused = now.status.partitions.filter((p) => p.pausedFor.length > 0);
  const lines: string[] = [
    `Sluice demo · ${pipeline.source.topic} → ${pipeline.name} → ClickHouse ${pipeline.sinks.clickhouse.database}.*   (Ctrl-C stops everything)`,
    `up ${Math.floor(up / 60)}m${String(up % 60).padStart(2, '0')}s · produced ${n(now.produced.sent)} (${n(r.produced)}/s; ${n(now.produced.late)} late, ${n(now.produced.malformed)} malformed) · processed ${n(t.completed)} (${n(r.processed)}/s) · lag ${n(t.lag)} · paused ${paused.length === 0 ? 'none' : paused.map((p) => `${p.partition} (${p.pausedFor.join(', ')})`).join(', ')} · late ${n(t.late)} · dead letters ${n(t.deadLettered)}`,
    '',
  ];

  const health = new Table({
    head: ['partition', 'processed', 'lag', 'watermark', 'open windows', 'state', 'paused'],
    style: { head: [], border: [], compact: true },
  });
  for (const p of [...now.status.partitions].sort((a, b) => a.partition - b.partition))
    health.push([
      p.partition,
      n(p.completed + p.filtered),
      p.lag === null ? '–' : n(p.lag),
      p.watermark === null ? '–' : new Date(p.watermark).toISOString().slice(11, 19),
      n(p.openWindows),
      `${n(p.stateBytes / 1024)} KiB`,
      p.pausedFor.join(', ') || '–',
    ]);
  if (now.status.restoring.partitions.length > 0)
    health.push([
      { colSpan: 7, content: `restoring ${now.status.restoring.partitions.join(', ')} from the changelog…` },
    ]);
  lines.push('Pipeline health', health.toString(), '');

  if (!aggregates) {
    lines.push(
      options.clickhouseError ? `ClickHouse: ${options.clickhouseError}` : 'waiting for the first windows…',
    );
    return lines.join('\n');
  }
  const minutes = new Table({
    head: ['minute (UTC)', ...TYPES, 'total'],
    style: { head: [], border: [], compact: true },
  });
  for (const m of aggregates.minutes) {
    const counts = TYPES.map((type) => m.byType[type] ?? 0);
    minutes.push([m.minute.slice(11, 16), ...counts.map(n), n(counts.reduce((a, b) => a + b, 0))]);
  }
  lines.push('Events per minute and type (tumbling 1m, final)', minutes.toString(), '');

  const countries = aggregates.countries.rows.map((c) => `${c.country} ${n(c.events)}`).join(' · ');
  lines.push(
    `Top countries, ${aggregates.countries.window || 'no window closed yet'} (sliding 5m every 1m):`,
    `  ${countries || '–'}`,
    `Sessions of the last 10 minutes (30 s gap, updated every 5 s): ${n(aggregates.sessions.sessions)} · ${aggregates.sessions.avgEvents.toFixed(1)} events and ${aggregates.sessions.avgSeconds.toFixed(0)} s on average`,
  );
  return lines.join('\n');
}
