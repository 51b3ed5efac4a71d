// The changelog topic's shape: the configs Sluice creates it with (so restores stay short), and the
// start-up check that refuses an existing one whose cleanup policy or partition count would lose or
// misplace window state, saying what to run.
import kafkajs, { type Admin } from 'kafkajs';
import { SluiceError } from '../errors.js';
import { topicOffsets, whileSettling } from './cluster-settling.js';

const { ConfigResourceTypes } = kafkajs;

/**
 * What a new changelog topic is created with. A restore reads a partition from its start to its end,
 * so its cost is what compaction has not removed yet: the active segment (never compacted), plus the
 * dirty part of the closed ones.
 * - segment.bytes 64 MiB (broker default 1 GiB): bounds the uncompacted active segment a restore reads.
 * - segment.ms 1 h (default 7 days): a quietly written changelog still rolls, so its updates become
 *   compactable within the hour rather than the week.
 * - min.compaction.lag.ms 0: any closed segment may be compacted at once (a broker-wide lag would
 *   keep superseded window versions for the restore to read).
 * - max.compaction.lag.ms 1 h (default: unbounded): a segment is compacted within the hour even when
 *   the dirty ratio is below its threshold.
 * - min.cleanable.dirty.ratio 0.25 (default 0.5): compacted once a quarter of the log is superseded
 *   versions, so a restore reads at most about 1.33x the live state (plus a segment), for about 4x the
 *   cleaner's rewriting of a 0.5 ratio; changelogs are small next to the source.
 * delete.retention.ms stays the broker's (1 day): a tombstone must outlive the longest restore that
 * could read the value it deletes.
 */
export const CHANGELOG_CREATION_CONFIG: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'segment.bytes': String(64 * 1024 * 1024),
  'segment.ms': String(60 * 60 * 1000),
  'min.compaction.lag.ms': '0',
  'max.compaction.lag.ms': String(60 * 60 * 1000),
  'min.cleanable.dirty.ratio': '0.25',
};

/** What the broker says about an existing changelog topic. */
export interface FoundChangelog {
  topic: string;
  partitions: number;
  /** The topic's cleanup.policy, e.g. `compact`, `delete` or `compact,delete`. */
  cleanupPolicy: string;
}

/** The changelog topic cannot hold the pipeline's state as it is: the pipeline must not start. */
export class ChangelogTopicError extends SluiceError {
  constructor(message: string) {
    super(message, { code: 'SLUICE_KAFKA_STATE_TOPIC', retriable: false });
  }
}

/**
 * Why the changelog cannot be used, or undefined when it can. Pure: `brokers` only fill in the
 * commands to run.
 */
export function changelogProblem(
  found: FoundChangelog,
  sourcePartitions: number,
  brokers: readonly string[],
): ChangelogTopicError | undefined {
  const { topic } = found;
  const bootstrap = brokers.join(',');
  if (!found.cleanupPolicy.split(',').some((policy) => policy.trim() === 'compact'))
    return new ChangelogTopicError(
      `changelog topic ${topic} has cleanup.policy=${found.cleanupPolicy}; Sluice needs compact ` +
        '(under delete the broker drops window state by age, so a restore misses open windows, and ' +
        'nothing removes superseded versions, so restores grow without bound). Make it compacted: ' +
        `\`kafka-configs.sh --bootstrap-server ${bootstrap} --alter --entity-type topics --entity-name ${topic} ` +
        '--add-config cleanup.policy=compact`; or, if it holds nothing of value (the pipeline never committed, ' +
        `or you will reprocess from the start), delete it and Sluice creates it: \`kafka-topics.sh ` +
        `--bootstrap-server ${bootstrap} --delete --topic ${topic}\`.`,
    );
  if (found.partitions !== sourcePartitions)
    return new ChangelogTopicError(
      `state topic ${topic} has ${found.partitions} partition(s); the source has ${sourcePartitions}. ` +
        'Recreate it with as many partitions as the source (its state is rebuilt from the source only by replaying from the beginning).',
    );
  return undefined;
}

/** The changelog's partition count and cleanup policy, as the broker has them. */
export async function describeChangelog(admin: Admin, topic: string): Promise<FoundChangelog> {
  const partitions = (await topicOffsets(admin, topic)).length;
  const described = await whileSettling(() =>
    admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
    }),
  );
  const entry = described.resources
    .flatMap((resource) => resource.configEntries)
    .find((config) => config.configName === 'cleanup.policy');
  // Absent only if the broker leaves it out; Kafka's default is delete.
  return { topic, partitions, cleanupPolicy: entry?.configValue ?? 'delete' };
}
