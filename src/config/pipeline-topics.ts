// The topics a pipeline reads and writes, named from its config: the source, the changelog of its
// window state, dead letters, late events, overflow (strategy `reject`) and the Kafka sink's outputs;
// and its consumer group. One place decides every name, so the runtime, the CLI and the bench agree.
import { rekeyPlanOf } from './rekeying.js';
import type { KafkaSinkConfig, Pipeline } from './schema.js';

export interface PipelineTopics {
  source: string;
  changelog: string;
  deadLetter: string;
  late: string;
  /** Written (and created) only under the backpressure strategy `reject`. */
  overflow: string;
  /** The Kafka sink's topics (one per window when its name holds `{window}`). */
  outputs: string[];
  /** Where re-keyed windows' events go (rekeying.ts); written only when a window is re-keyed. */
  repartition: string;
}

/** The consumer group, changelog and topics of the side that computes re-keyed windows. */
export interface RekeyedNames {
  groupId: string;
  changelog: string;
}

export function rekeyedNamesOf(pipeline: Pipeline): RekeyedNames {
  return {
    groupId: `${groupIdOf(pipeline)}-rekeyed`,
    changelog: `${pipelineTopicsOf(pipeline).changelog}-rekeyed`,
  };
}

/** How long the repartition topic keeps events: the re-keyed side may be down this long without losing any. */
export const REPARTITION_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** A topic the pipeline creates when missing, with as many partitions as the source. */
export interface TopicToCreate {
  topic: string;
  /** Time-retained (dead letters, overflow, late events); without it the topic is compacted (changelog). */
  retentionMs?: number;
  /** Neither: the broker's defaults (output topics, which users own). */
  brokerDefaults?: boolean;
}

/** The consumer group the pipeline's members join: `source.groupId`, else `sluice-<name>`. */
export function groupIdOf(pipeline: Pick<Pipeline, 'name' | 'source'>): string {
  return pipeline.source.groupId ?? `sluice-${pipeline.name}`;
}

/** The Kafka sink's topic for one window's rows. */
export function outputTopicOf(config: Pick<KafkaSinkConfig, 'topic'>, window: string): string {
  return config.topic.replaceAll('{window}', window);
}

export function pipelineTopicsOf(pipeline: Pipeline): PipelineTopics {
  const source = pipeline.source.topic;
  const kafka = pipeline.sinks.kafka;
  return {
    source,
    changelog: pipeline.state.changelogTopic ?? `sluice-${pipeline.name}-changelog`,
    deadLetter: pipeline.deadLetter.topic ?? `${source}.dlq`,
    late: pipeline.lateEvents.topic ?? `${source}.late`,
    overflow: pipeline.backpressure.overflowTopic ?? `${source}.overflow`,
    outputs: kafka ? [...new Set(pipeline.windows.map((w) => outputTopicOf(kafka, w.name)))] : [],
    repartition: pipeline.state.repartitionTopic ?? `sluice-${pipeline.name}-repartition`,
  };
}

/** Every topic the pipeline writes to besides ClickHouse, as it creates them. */
export function topicsToCreate(pipeline: Pipeline): TopicToCreate[] {
  const names = pipelineTopicsOf(pipeline);
  const retentionMs = pipeline.deadLetter.retention;
  const topics: TopicToCreate[] = [
    { topic: names.deadLetter, retentionMs },
    { topic: names.late, retentionMs },
    { topic: names.changelog },
  ];
  for (const topic of names.outputs) topics.push({ topic, brokerDefaults: true });
  if (pipeline.backpressure.strategy === 'reject') topics.push({ topic: names.overflow, retentionMs });
  if (rekeyPlanOf(pipeline).rekeyed.length > 0) {
    topics.push({ topic: names.repartition, retentionMs: REPARTITION_RETENTION_MS });
    topics.push({ topic: rekeyedNamesOf(pipeline).changelog });
  }
  return topics;
}
