// The Helm chart: lint (strict) passes, and every object it renders with the default values and with
// every option on validates against the Kubernetes schemas.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkChart, validateObject } from '../support/helm-chart.js';

interface PodSpec {
  terminationGracePeriodSeconds: number;
  containers: {
    readinessProbe: { httpGet: { path: string } };
    livenessProbe: { httpGet: { path: string } };
    securityContext: Record<string, unknown>;
    env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
  }[];
}

describe('the Helm chart', () => {
  it('lints, and renders valid Kubernetes objects with default values and with every option on', async () => {
    const { lint, rendered } = await checkChart('helm/sluice', {
      default: '-',
      all: 'helm/sluice/ci/all-options.yaml',
      hpa: 'helm/sluice/ci/all-options-hpa.yaml',
    });
    expect(lint.filter((l) => /\[(ERROR|WARNING)\]/.test(l))).toEqual([]);
    for (const [name, objects] of rendered) {
      expect(objects.length, name).toBeGreaterThan(0);
      const problems = (await Promise.all(objects.map(validateObject))).flat();
      expect(problems, name).toEqual([]);
    }
    const kinds = (name: string) =>
      rendered
        .get(name)!
        .map((o) => o.kind)
        .sort();
    expect(kinds('default')).toEqual(['ConfigMap', 'Deployment', 'Service']);
    expect(kinds('all')).toEqual([
      'ConfigMap',
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'ScaledObject',
      'Service',
      'ServiceMonitor',
    ]);
    expect(kinds('hpa')).toContain('HorizontalPodAutoscaler');

    // The pod's grace period covers the pipeline's shutdown deadline, and the probes ask the right routes.
    const all = rendered.get('all')!;
    const pod = (
      all.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } }
    ).spec.template.spec;
    const config = all.find(
      (o) => o.metadata.name === 'sluice-sluice' && o.kind === 'ConfigMap',
    ) as unknown as {
      data: Record<string, string>;
    };
    expect(config.data['pipeline.yaml']).toContain('timeout: 25s');
    expect(pod.terminationGracePeriodSeconds).toBe(35);
    const [container] = pod.containers;
    expect(container!.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container!.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container!.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    // Secrets are referenced, never inlined.
    const password = container!.env.find((e) => e.name === 'KAFKA_SASL_PASSWORD');
    expect(password?.valueFrom?.secretKeyRef?.name).toBe('kafka-credentials');
    expect(password?.value).toBeUndefined();
    // Extra variables come after the chart's own.
    expect(container!.env.at(-1)).toEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=64' });
    // KEDA watches the source group on the source topic and, asked to, the re-keyed side's group on the
    // repartition topic (the names Sluice gives them).
    const scaled = all.find((o) => o.kind === 'ScaledObject') as unknown as {
      spec: { triggers: { type: string; metadata: Record<string, string> }[] };
    };
    expect(scaled.spec.triggers.map((t) => [t.type, t.metadata.consumerGroup, t.metadata.topic])).toEqual([
      ['kafka', 'sluice-page_views', 'user-events'],
      ['kafka', 'sluice-page_views-rekeyed', 'sluice-page_views-repartition'],
    ]);
    expect(scaled.spec.triggers.map((t) => t.metadata.lagThreshold)).toEqual(['10000', '2000']);
  });

  it('catches an invalid object: the validation can fail', async () => {
    const problems = await validateObject({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: { replicas: 'three', selector: {}, template: { spec: { containers: [{ name: 'c' }] } } },
    });
    expect(problems.join('\n')).toContain('replicas must be integer');
  });
});

describe('the Helm chart’s values schema', () => {
  it('refuses a values file that does not fit, naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-values-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'replicaCount: many\nkafka:\n  brokers: kafka:9092\n  tls: { enabled: maybe }\n');
    await expect(checkChart('helm/sluice', { bad })).rejects.toThrow(/replicaCount|enabled/);
  });
});
