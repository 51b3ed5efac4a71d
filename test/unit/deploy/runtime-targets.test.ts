// The versions Sluice ships on agree with the versions CI tests: the image's Node is the LTS line that
// .ci/run installs and runs the suite on, package.json's engines admit it, and the compose stack's
// Kafka is a release line the local stack runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KAFKA_VERSION, checkedKafkaVersion } from '../../../src/tools/stack/kafka-release.js';

const ci = readFileSync('.ci/run', 'utf8');
const setting = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(ci)?.[1];
const major = (version: string) => version.split('.')[0];

describe('runtime targets', () => {
  it('builds the image on the Node LTS line CI tests, which engines admit', () => {
    const lts = setting('NODE_LTS_VERSION');
    expect(lts, '.ci/run sets NODE_LTS_VERSION').toMatch(/^\d+\.\d+\.\d+$/);
    const bases = [...readFileSync('Dockerfile', 'utf8').matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toBe(major(lts!));
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } })
      .engines;
    expect(engines.node.split('||').map((range) => range.trim())).toContain(`^${major(lts!)}.0.0`);
  });

  it("runs compose's Kafka on the stack's default release, and CI's other leg on another line", () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<string, { image?: string }>;
    };
    for (const service of ['kafka', 'kafka-init'])
      expect(compose.services[service]?.image, service).toBe(`apache/kafka:${KAFKA_VERSION}`);
    const other = setting('OTHER_KAFKA_VERSION');
    expect(() => checkedKafkaVersion(other ?? '', '.ci/run OTHER_KAFKA_VERSION')).not.toThrow();
    expect(other!.split('.').slice(0, 2)).not.toEqual(KAFKA_VERSION.split('.').slice(0, 2));
  });
});
