// The Grafana dashboard shipped with the chart asks only for metrics Sluice exports, so it cannot drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PipelineMetrics } from '../../../src/ops/metrics.js';
import { emptyCounters } from '../../../src/runtime/partition-worker.js';

describe('the Grafana dashboard', () => {
  it('queries only metrics that Sluice exports', async () => {
    const metrics = new PipelineMetrics('p', undefined, {
      partitions: () => [],
      releasedTotals: () => emptyCounters(),
      stages: () => new Map(),
      sinks: () => [],
    });
    const exported = new Set(
      (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const dashboard = JSON.parse(readFileSync('helm/sluice/dashboards/sluice.json', 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => t.expr.match(/sluice_[a-z_]+/g) ?? []),
    );
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});
