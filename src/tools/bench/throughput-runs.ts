// The throughput runs on one bench topic, in the order each round runs them: the bare kafkajs
// consumer, Kafka's perf tool (Avro topic), the Kafka Streams and Flink peers doing the job Sluice does
// on that topic (the full job on the Avro topic, the simple count on the JSON one), then Sluice.
import type { Kafka } from 'kafkajs';
import type { Endpoints } from '../../config/endpoints.js';
import { KAFKA_VERSION } from '../stack/kafka-release.js';
import type { BenchFormat } from './bench-feed.js';
import { result, type BenchResult } from './bench-report.js';
import { REGIONS_TABLE, fullPipeline, simplePipeline } from './bench-pipelines.js';
import { runFlink } from './flink-peer.js';
import { FLINK_VERSION } from './java-peer-build.js';
import { runConsumerPerfTool, runKafkaStreams } from './java-peers.js';
import { bareConsumer, sluiceThroughput } from './throughput.js';

/** Kafka Streams' grace: its repartitions interleave the input partitions (see below). */
export const STREAMS_GRACE_MS = 24 * 3_600_000;

export interface ThroughputRunsOptions {
  events: number;
  partitions: number;
  /** Only the bare consumer and Sluice's simple pipeline (the test's small run). */
  only?: 'simple';
  log: (line: string) => void;
}

/** The throughput runs on one bench topic, each taking its round (for names of its own per round). */
export function throughputRuns(
  kafka: Kafka,
  endpoints: Endpoints,
  topic: string,
  format: BenchFormat,
  stamp: number,
  options: ThroughputRunsOptions,
  ownedTopic: (name: string) => string,
): ((round: number) => Promise<BenchResult>)[] {
  const log = options.log;
  const throughput = { events: options.events, partitions: options.partitions, log };
  const runs: ((round: number) => Promise<BenchResult>)[] = [
    (round) => {
      log(`bare kafkajs consumer on ${topic}…`);
      return bareConsumer(kafka, topic, format, { ...throughput, round });
    },
  ];
  if (options.only !== 'simple') {
    if (format === 'avro')
      runs.push(async () => {
        log(`Kafka's Java consumer perf tool on ${topic}…`);
        return {
          ...(await runConsumerPerfTool({ brokers: endpoints.brokers, topic, events: options.events, log })),
          name: 'kafka-perf-tool-avro',
          topic: format,
          description:
            "Apache Kafka's Java consumer perf tool (kafka-tools), reading and discarding: the broker's ceiling here",
        };
      });
    // On the Avro topic the job Sluice's full pipeline does; on the JSON one the simple count.
    const full = format === 'avro';
    runs.push(async (round) => {
      log(`Kafka Streams (${full ? 'full' : 'simple'} job) on ${topic}…`);
      const streams = await runKafkaStreams({
        brokers: endpoints.brokers,
        topic,
        outputTopic: ownedTopic(`bench-streams-out-${format}-${stamp}-${round}`),
        applicationId: `bench-streams-${format}-${stamp}-${round}`,
        format,
        events: options.events,
        windowMs: 60_000,
        // Its repartitions interleave the input partitions: a grace that covers the whole stream, so it
        // drops nothing as late and counts what Sluice counts.
        graceMs: STREAMS_GRACE_MS,
        commitIntervalMs: 100,
        ...(full
          ? { job: 'full' as const, lookup: { url: endpoints.clickhouse!.url, table: REGIONS_TABLE } }
          : {}),
        log,
      });
      const name = full ? 'kafka-streams-full' : 'kafka-streams-json';
      return {
        ...result(name, format, '', streams.events, streams.seconds, streams.cpuSeconds),
        description: full
          ? `Kafka Streams ${KAFKA_VERSION}, the full pipeline's job: Avro, the region looked up in a map loaded from the same ClickHouse table, tumbling 1-minute count per (type, url) and hopping 5-minute sums per region (each re-keyed through a repartition topic), 30-second sessions per user, exactly_once_v2, in-memory stores, every update to a topic`
          : `Kafka Streams ${KAFKA_VERSION}: JSON, tumbling 1-minute count per (type, url), exactly_once_v2, in-memory window store, to a topic`,
      };
    });
    runs.push(async (round) => {
      log(`Flink (${full ? 'full' : 'simple'} job) on ${topic}…`);
      const flink = await runFlink({
        brokers: endpoints.brokers,
        topic,
        outputTopic: ownedTopic(`bench-flink-out-${format}-${stamp}-${round}`),
        applicationId: `bench-flink-${format}-${stamp}-${round}`,
        format,
        events: options.events,
        windowMs: 60_000,
        checkpointIntervalMs: 1_000,
        ...(full
          ? { job: 'full' as const, lookup: { url: endpoints.clickhouse!.url, table: REGIONS_TABLE } }
          : {}),
        log,
      });
      const how = `a local mini-cluster in one JVM, parallelism ${flink.parallelism}, exactly-once checkpoints every second (heap state), a transactional Kafka sink`;
      return {
        ...result(
          full ? 'flink-full' : 'flink-simple',
          format,
          '',
          flink.events,
          flink.seconds,
          flink.cpuSeconds,
        ),
        late: flink.late,
        windows: flink.windows,
        description: full
          ? `Apache Flink ${FLINK_VERSION}, the full pipeline's job: Avro, the region looked up in a map loaded from the same ClickHouse table, tumbling 1-minute count per (type, url), sliding 5-minute sums per region, 30-second sessions per user, each keyed, final rows to a topic; ${how}`
          : `Apache Flink ${FLINK_VERSION}: JSON, tumbling 1-minute count per (type, url), keyed, final rows to a topic; ${how}`,
      };
    });
  }
  if (format === 'avro') {
    runs.push((round) => {
      log('Sluice, full pipeline…');
      return sluiceThroughput(
        kafka,
        fullPipeline(topic, round > 1 ? { name: `bench_full_${stamp}_r${round}` } : {}),
        endpoints,
        {
          name: 'sluice-full',
          topic: format,
          description:
            'Sluice: Avro, ClickHouse lookup (cached), tumbling + sliding + session windows re-keyed by their group keys, exactly-once, ClickHouse sink',
        },
        throughput,
      );
    });
  } else {
    const simple = [
      {
        perPartition: false,
        name: 'sluice-simple',
        what: 'Sluice, simple pipeline',
        description:
          'Sluice: JSON, one tumbling count per (type, url) re-keyed through the repartition topic, at-least-once, ClickHouse sink',
      },
      {
        perPartition: true,
        name: 'sluice-simple-per-partition',
        what: 'Sluice, simple pipeline without re-keying',
        description:
          'Sluice: the simple pipeline computed per source partition (no re-keying, rows per partition as in 0.1): what re-keying costs',
      },
    ];
    for (const run of simple)
      runs.push((round) => {
        log(`${run.what}…`);
        return sluiceThroughput(
          kafka,
          simplePipeline(topic, run.perPartition, round),
          endpoints,
          { name: run.name, topic: format, description: run.description },
          throughput,
        );
      });
  }
  return runs;
}
