// The Helm chart: lint (strict) passes, and every object it renders with the default values and with
// every option on validates against the Kubernetes schemas.
import { describe, expect, it } from 'vitest';
import { checkChart, validateObject } from '../support/helm-chart.js';

describe('the Helm chart', () => {
  it('lints, and renders valid Kubernetes objects with default values and with every option on', async () => {
    const { lint, rendered } = await checkChart('helm/sluice', {
      default: '-',
      all: 'helm/sluice/ci/all-options.yaml',
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
    expect(kinds('default')).toEqual(expect.arrayContaining(['ConfigMap', 'Deployment']));
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
