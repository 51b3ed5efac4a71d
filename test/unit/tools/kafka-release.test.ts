// The release lines the local stack runs: which versions it takes, and what each line needs.
import { describe, expect, it } from 'vitest';
import {
  brokerLoggingOf,
  checkedKafkaVersion,
  KAFKA_VERSION,
  releaseProperties,
  selectedKafkaVersion,
} from '../../../src/tools/stack/kafka-release.js';

describe('Kafka releases of the local stack', () => {
  it('takes full releases of the lines it runs and names the setting when it refuses one', () => {
    expect(checkedKafkaVersion('3.9.1', '--kafka-version')).toBe('3.9.1');
    expect(checkedKafkaVersion('4.4.0', '--kafka-version')).toBe('4.4.0');
    expect(() => checkedKafkaVersion('4.4', '--kafka-version')).toThrow(
      /^--kafka-version: expected an Apache Kafka release of the lines 3\.9, 4\.0, .* found "4\.4"$/,
    );
    expect(() => checkedKafkaVersion('2.8.2', 'SLUICE_KAFKA_VERSION')).toThrow(
      /^SLUICE_KAFKA_VERSION: .*"2\.8\.2"/,
    );
  });

  it('runs the default unless the environment chooses', () => {
    expect(selectedKafkaVersion({})).toBe(KAFKA_VERSION);
    expect(selectedKafkaVersion({ SLUICE_KAFKA_VERSION: '' })).toBe(KAFKA_VERSION);
    expect(selectedKafkaVersion({ SLUICE_KAFKA_VERSION: '4.1.1' })).toBe('4.1.1');
    expect(() => selectedKafkaVersion({ SLUICE_KAFKA_VERSION: 'latest' })).toThrow(/SLUICE_KAFKA_VERSION/);
  });

  it('logs 3.9 through reload4j and 4.x through log4j 2, each with its own config flag', () => {
    const old = brokerLoggingOf('3.9.1');
    expect(old.dependencies.map(([, artifact]) => artifact)).toEqual(['slf4j-reload4j', 'reload4j']);
    expect(old.jvmFlag('/s/log4j.properties')).toBe('-Dlog4j.configuration=file:/s/log4j.properties');
    const current = brokerLoggingOf('4.4.0');
    expect(current.dependencies.map(([, artifact]) => artifact)).toEqual(['log4j-slf4j-impl']);
    expect(current.file).toBe('log4j2.properties');
    expect(current.jvmFlag('/s/log4j2.properties')).toBe(
      '-Dlog4j2.configurationFile=file:/s/log4j2.properties',
    );
  });

  it("sizes Kafka 4's share coordinator state topic to the nodes there are", () => {
    expect(releaseProperties('3.9.1', 1)).toBe('');
    expect(releaseProperties('4.4.0', 1)).toContain('share.coordinator.state.topic.replication.factor=1');
    expect(releaseProperties('4.4.0', 3)).toContain('share.coordinator.state.topic.replication.factor=3');
    expect(releaseProperties('4.4.0', 3)).toContain('share.coordinator.state.topic.min.isr=1');
  });
});
