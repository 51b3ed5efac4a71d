// The start-up check of an existing changelog topic: refused under cleanup.policy=delete or with another
// partition count than the source, with the topic, what was found and the command that fixes it.
import { describe, expect, it } from 'vitest';
import { CHANGELOG_CREATION_CONFIG, changelogProblem } from '../../../src/source/changelog-topic.js';

const BROKERS = ['kafka-0:9092', 'kafka-1:9092'];

describe('the changelog topic check', () => {
  it.each(['compact', 'compact,delete', 'delete,compact', 'delete, compact'])(
    'accepts cleanup.policy=%s',
    (policy) => {
      expect(
        changelogProblem({ topic: 'cl', partitions: 4, cleanupPolicy: policy }, 4, BROKERS),
      ).toBeUndefined();
    },
  );

  it('refuses cleanup.policy=delete, naming the topic and the commands that fix it', () => {
    const problem = changelogProblem(
      { topic: 'sluice-p-changelog', partitions: 4, cleanupPolicy: 'delete' },
      4,
      BROKERS,
    );
    expect(problem?.code).toBe('SLUICE_KAFKA_STATE_TOPIC');
    expect(problem?.retriable).toBe(false);
    expect(problem?.message).toContain('changelog topic sluice-p-changelog has cleanup.policy=delete');
    expect(problem?.message).toContain(
      'kafka-configs.sh --bootstrap-server kafka-0:9092,kafka-1:9092 --alter --entity-type topics --entity-name sluice-p-changelog --add-config cleanup.policy=compact',
    );
    expect(problem?.message).toContain(
      'kafka-topics.sh --bootstrap-server kafka-0:9092,kafka-1:9092 --delete --topic sluice-p-changelog',
    );
  });

  it('refuses another partition count than the source', () => {
    const problem = changelogProblem({ topic: 'cl', partitions: 2, cleanupPolicy: 'compact' }, 4, BROKERS);
    expect(problem?.code).toBe('SLUICE_KAFKA_STATE_TOPIC');
    expect(problem?.message).toMatch(/^state topic cl has 2 partition\(s\); the source has 4\. Recreate it/);
  });

  it('creates it compacted, with segments and compaction bounded', () => {
    expect(CHANGELOG_CREATION_CONFIG).toMatchObject({ 'cleanup.policy': 'compact' });
    expect(Number(CHANGELOG_CREATION_CONFIG['segment.bytes'])).toBeLessThan(1024 ** 3);
    expect(Number(CHANGELOG_CREATION_CONFIG['max.compaction.lag.ms'])).toBeGreaterThan(0);
  });
});
