// The bench report: every figure of one run on one machine (throughput of Sluice and its peers on the
// same topics, latency, state footprint and restore), with the machine, versions and parameters, the
// targets each figure is held to, and optionally the same figures of an earlier report (before/after).
import { cpus, hostname, totalmem } from 'node:os';

export interface BenchResult {
  name: string;
  description: string;
  /** Which bench topic it read: the Avro one (full pipeline) or the JSON one (simple pipeline). */
  topic: 'avro' | 'json';
  events: number;
  /** Of a repeated run: the median of its repetitions (so are the rate and the CPU per event). */
  seconds: number;
  eventsPerSecond: number;
  /** The consumer's process CPU time (user + system) over the same span, and per event, in µs. */
  cpuSeconds?: number;
  cpuMicrosPerEvent?: number;
  /** Each repetition's figures, in the order run (the runs of a round alternate with the others'). */
  runs?: RunFigures[];
  /** Late events and dead letters: any at all means the bench stream was not what it should be. */
  late?: number;
  deadLettered?: number;
  /** A peer's rows per window and the events they held (the Flink peer's, once its input ended). */
  windows?: Record<string, { rows: number; events: number }>;
}

export interface RunFigures {
  eventsPerSecond: number;
  seconds: number;
  cpuMicrosPerEvent?: number;
}

export interface LatencyResult {
  name: string;
  description: string;
  /** Events per second of the steady load, and for how long. */
  rate: number;
  seconds: number;
  /** Window rows whose final count was observed (one latency each). */
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface FootprintResult {
  keys: number;
  /** Sluice's own estimate of the window state's size (what /status reports as stateBytes). */
  stateBytesPerKey: number;
  /** The heap the state really takes, after a full GC, and the process's RSS growth. */
  heapBytesPerKey: number;
  rssBytesPerKey: number;
  changelogEntries: number;
  restoreSeconds: number;
  restoreEntriesPerSecond: number;
}

export interface TargetCheck {
  figure: string;
  target: string;
  value: string;
  met: boolean;
  /** How far off a missed target is, e.g. "−31 %". */
  by?: string;
}

/** One `sluice run` member of a scale-out run, over the run's span. */
export interface ScaleOutMember {
  /** Partitions it owned at the finish line: of the source topic, and of the repartition topic. */
  sourcePartitions: number[];
  rekeyedPartitions: number[];
  /** Events it took through on the source side, and records through on the re-keyed side. */
  events: number;
  rekeyedRecords: number;
  /** Its process's CPU (user + system), and per event it took through the source side, in µs. */
  cpuSeconds: number;
  cpuMicrosPerEvent: number;
}

/** The same job on the same events, run by `members` Sluice processes in one consumer group. */
export interface ScaleOutRun {
  members: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Every member's CPU summed, and per event. */
  cpuSeconds: number;
  cpuMicrosPerEvent: number;
  late: number;
  deadLettered: number;
  perMember: ScaleOutMember[];
}

export interface ScaleOutResult {
  job: 'full' | 'simple';
  description: string;
  partitions: number;
  runs: ScaleOutRun[];
}

export interface BenchReport {
  at: string;
  machine: { host: string; cpus: number; cpuModel: string; memoryGiB: number };
  versions: {
    node: string;
    kafka: string;
    clickhouse: string;
    sluice: string;
    kafkaStreams?: string;
    flink?: string;
  };
  parameters: {
    events: number;
    partitions: number;
    seed: number;
    quick?: boolean;
    /** How many times each throughput run ran, alternated with the others. */
    repeat?: number;
    latencyRate?: number;
    latencySeconds?: number;
    footprintKeys?: number;
  };
  results: BenchResult[];
  ratios: Record<string, number>;
  latency?: LatencyResult[];
  footprint?: FootprintResult;
  targets?: TargetCheck[];
  /** The same job by 1, 2, 4… member processes (`sluice bench --scale-out`). */
  scaleOut?: ScaleOutResult;
  /** Notes on where the time goes, written by the bench from what it measured. */
  notes?: string[];
}

export function result(
  name: string,
  topic: BenchResult['topic'],
  description: string,
  events: number,
  seconds: number,
  cpuSeconds?: number,
): BenchResult {
  return {
    name,
    description,
    topic,
    events,
    seconds: round(seconds, 2),
    eventsPerSecond: Math.round(events / seconds),
    ...(cpuSeconds === undefined
      ? {}
      : { cpuSeconds: round(cpuSeconds, 3), cpuMicrosPerEvent: round((cpuSeconds * 1e6) / events, 2) }),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The repetitions of each run as one result, in the order the runs first appear: the median rate,
 * seconds and CPU per event, every repetition's figures beside them, late events and dead letters summed.
 */
export function combineRuns(results: readonly BenchResult[]): BenchResult[] {
  const byName = new Map<string, BenchResult[]>();
  for (const r of results) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  return [...byName.values()].map((runs) => {
    const first = runs[0]!;
    if (runs.length === 1) return first;
    const cpu = runs.map((r) => r.cpuMicrosPerEvent).filter((c): c is number => c !== undefined);
    const cpuSeconds = runs.map((r) => r.cpuSeconds).filter((c): c is number => c !== undefined);
    const sum = (pick: (r: BenchResult) => number | undefined) =>
      runs.some((r) => pick(r) !== undefined) ? runs.reduce((n, r) => n + (pick(r) ?? 0), 0) : undefined;
    const late = sum((r) => r.late);
    const dead = sum((r) => r.deadLettered);
    return {
      name: first.name,
      description: first.description,
      topic: first.topic,
      events: first.events,
      seconds: round(median(runs.map((r) => r.seconds)), 2),
      eventsPerSecond: Math.round(median(runs.map((r) => r.eventsPerSecond))),
      ...(cpu.length === runs.length
        ? { cpuSeconds: round(median(cpuSeconds), 3), cpuMicrosPerEvent: round(median(cpu), 2) }
        : {}),
      runs: runs.map((r) => ({
        eventsPerSecond: r.eventsPerSecond,
        seconds: r.seconds,
        ...(r.cpuMicrosPerEvent === undefined ? {} : { cpuMicrosPerEvent: r.cpuMicrosPerEvent }),
      })),
      ...(late === undefined ? {} : { late }),
      ...(dead === undefined ? {} : { deadLettered: dead }),
      // The same input gives the same windows each run: the last run's stand for all.
      ...(runs.at(-1)?.windows ? { windows: runs.at(-1)!.windows } : {}),
    };
  });
}

/** A repeated run's spread: lowest–highest rate, and how far apart as a share of the median. */
export function spreadOf(r: BenchResult): string {
  if (!r.runs || r.runs.length < 2) return '–';
  const rates = r.runs.map((run) => run.eventsPerSecond);
  const [low, high] = [Math.min(...rates), Math.max(...rates)];
  return `${n(low)}–${n(high)} (±${Math.round(((high - low) / 2 / r.eventsPerSecond) * 100)} %)`;
}

export const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function machine(): BenchReport['machine'] {
  const cpu = cpus();
  return {
    host: hostname(),
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
  };
}

const n = (value: number) => value.toLocaleString('en-US');
const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

export function reportMarkdown(report: BenchReport, before?: BenchReport): string {
  const lines = [
    `# Sluice bench, ${report.at}`,
    '',
    `Machine: ${report.machine.host}, ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB.`,
    `Versions: Node ${report.versions.node}, Apache Kafka ${report.versions.kafka}${report.versions.kafkaStreams ? ` (Kafka Streams ${report.versions.kafkaStreams})` : ''}${report.versions.flink ? `, Apache Flink ${report.versions.flink}` : ''}, ClickHouse ${report.versions.clickhouse}, Sluice ${report.versions.sluice}.`,
    `Parameters: ${n(report.parameters.events)} events per topic, ${report.parameters.partitions} partitions, seed ${report.parameters.seed}${report.parameters.quick ? ' (--quick)' : ''}${report.parameters.repeat && report.parameters.repeat > 1 ? `, each throughput run ${report.parameters.repeat} times, alternated (medians; the spread is lowest–highest)` : ''}.`,
    '',
  ];
  // A scale-out run alone (`--scale-out`) has no throughput runs.
  if (report.results.length > 0) lines.push(...throughputMarkdown(report, before));
  if (report.scaleOut) lines.push(...scaleOutMarkdown(report.scaleOut, report.machine.cpus));
  if (report.latency?.length) {
    lines.push(
      '## Latency (produce → row queryable, update emits)',
      '',
      '| run | rate | seconds | samples | p50 ms | p99 ms | max ms | what |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...report.latency.map(
        (l) =>
          `| ${l.name} | ${n(l.rate)}/s | ${l.seconds} | ${n(l.samples)} | ${n(l.p50Ms)} | ${n(l.p99Ms)} | ${n(l.maxMs)} | ${l.description} |`,
      ),
      '',
    );
  }
  const f = report.footprint;
  if (f) {
    lines.push(
      '## State footprint and restore',
      '',
      `- ${n(f.keys)} distinct window keys: ${n(f.stateBytesPerKey)} bytes per key estimated by Sluice, ${n(f.heapBytesPerKey)} bytes of heap, ${n(f.rssBytesPerKey)} bytes of RSS (per million keys: ${n(Math.round(f.heapBytesPerKey))} MB of heap).`,
      `- Restore: ${n(f.changelogEntries)} changelog entries in ${f.restoreSeconds} s on one partition: ${n(f.restoreEntriesPerSecond)} entries/s (${round(1_000_000 / f.restoreEntriesPerSecond, 2)} s per million).`,
      '',
    );
  }
  if (report.targets?.length) {
    lines.push(
      '## Targets',
      '',
      '| figure | target | measured | |',
      '| --- | --- | --- | --- |',
      ...report.targets.map(
        (t) => `| ${t.figure} | ${t.target} | ${t.value} | ${t.met ? 'met' : `missed (${t.by ?? ''})`} |`,
      ),
      '',
    );
  }
  if (report.notes?.length) lines.push('## Notes', '', ...report.notes.map((note) => `- ${note}`), '');
  return lines.join('\n');
}

function throughputMarkdown(report: BenchReport, before: BenchReport | undefined): string[] {
  const earlier = (name: string) => before?.results.find((r) => r.name === name);
  return [
    '## Throughput',
    '',
    'CPU µs/event: the consumer process’s user + system time over the same span, per event.',
    '',
    before
      ? `| run | topic | events/s | spread | CPU µs/event | before (${before.at}) | seconds | what |`
      : '| run | topic | events/s | spread | CPU µs/event | seconds | what |',
    before
      ? '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |'
      : '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...report.results.map((r) => {
      const cpu = r.cpuMicrosPerEvent === undefined ? '–' : String(r.cpuMicrosPerEvent);
      const was = earlier(r.name);
      return before
        ? `| ${r.name} | ${r.topic} | ${n(r.eventsPerSecond)} | ${spreadOf(r)} | ${cpu} | ${was ? `${n(was.eventsPerSecond)}${was.cpuMicrosPerEvent === undefined ? '' : `, ${was.cpuMicrosPerEvent} µs`}` : '–'} | ${r.seconds} | ${r.description} |`
        : `| ${r.name} | ${r.topic} | ${n(r.eventsPerSecond)} | ${spreadOf(r)} | ${cpu} | ${r.seconds} | ${r.description} |`;
    }),
    '',
    ...Object.entries(report.ratios).map(([name, value]) => {
      const was = before?.ratios[name];
      return `- ${name}: ${percent(value)}${was === undefined ? '' : ` (before: ${percent(was)})`}`;
    }),
    ...report.results
      .filter((r) => r.windows)
      .map(
        (r) =>
          `- ${r.name}, windows fired once its input ended: ${Object.entries(r.windows ?? {})
            .map(([name, w]) => `${name} ${n(w.rows)} rows of ${n(w.events)} events`)
            .join(', ')}; ${r.late ?? 0} late`,
      ),
    '',
  ];
}

function scaleOutMarkdown(scaleOut: ScaleOutResult, cpus: number): string[] {
  const one = scaleOut.runs.find((r) => r.members === 1);
  const againstOne = (r: ScaleOutRun) =>
    one && one.cpuMicrosPerEvent > 0 ? percent(r.cpuMicrosPerEvent / one.cpuMicrosPerEvent) : '–';
  const list = (partitions: number[]) => (partitions.length === 0 ? '–' : partitions.join(' '));
  return [
    '## Scale-out',
    '',
    `${scaleOut.description}. The same events on ${scaleOut.partitions} partitions for each member count, each member a \`sluice run\` process of its own in one consumer group, started and holding its partitions before the first event is produced; the span runs from the first event produced to every event through both sides, the source group committed to the end of the topic and the re-keyed group’s commits at rest.`,
    '',
    `The members share this machine's ${cpus} cores with the broker and ClickHouse: events/s cannot grow past them. CPU per event is the figure that must stay flat as members are added (last column: against one member).`,
    '',
    '| members | seconds | events/s | CPU s | CPU µs/event | late | dead letters | CPU/event against 1 member |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...scaleOut.runs.map(
      (r) =>
        `| ${r.members} | ${r.seconds} | ${n(r.eventsPerSecond)} | ${r.cpuSeconds} | ${r.cpuMicrosPerEvent} | ${n(r.late)} | ${n(r.deadLettered)} | ${againstOne(r)} |`,
    ),
    '',
    'Per member: the partitions it owned (of the source topic; of the repartition topic), the events it took through on the source side, the records through on its re-keyed side, its process’s CPU (user + system) and that CPU per event it took.',
    '',
    '| members | member | source partitions | re-keyed partitions | events | re-keyed records | CPU s | CPU µs/event |',
    '| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |',
    ...scaleOut.runs.flatMap((r) =>
      r.perMember.map(
        (m, i) =>
          `| ${r.members} | ${i + 1} | ${list(m.sourcePartitions)} | ${list(m.rekeyedPartitions)} | ${n(m.events)} | ${n(m.rekeyedRecords)} | ${m.cpuSeconds} | ${m.cpuMicrosPerEvent} |`,
      ),
    ),
    '',
  ];
}
