// A pipeline with re-keyed windows (rekeying.ts) runs as two members in one process: the source side,
// which parses, enriches, decides lateness and computes the windows its topic's keying allows, and
// writes the other windows' events to the repartition topic; and the re-keyed side, which computes
// those from there. To its user it is one RunningPipeline: status and readiness cover both, health
// fails when either does, metrics carry both (the re-keyed side's with `side="rekeyed"`), controls
// act on both, and if either stops on an error the other is stopped too.
import { renderMetrics } from '../ops/metrics.js';
import type { SinkControls } from '../sinks/sink-set.js';
import type { PipelineStatus } from './member-status.js';
import type { MetricObject, PipelineRunner, RunningPipeline } from './pipeline-runner.js';

export class RekeyedPipeline implements RunningPipeline {
  readonly done: Promise<void>;
  readonly sinks: SinkControls;

  constructor(
    private readonly source: PipelineRunner,
    private readonly rekeyed: PipelineRunner,
  ) {
    // Whichever stops on its own (an abort) takes the other down with it: half a pipeline is none.
    const partner = (other: PipelineRunner) => (error: unknown) => {
      void other.stop().catch(() => undefined);
      throw error;
    };
    this.done = Promise.all([source.done.catch(partner(rekeyed)), rekeyed.done.catch(partner(source))]).then(
      () => undefined,
    );
    this.done.catch(() => undefined);
    const both = [source.sinks, rekeyed.sinks];
    this.sinks = {
      flush: async (group) => {
        await Promise.all(both.map((s) => s.flush(group)));
      },
      pause: () => both.forEach((s) => s.pause()),
      resume: () => both.forEach((s) => s.resume()),
      drain: async () => {
        await Promise.all(both.map((s) => s.drain()));
      },
      sizes: () => {
        const sizes: Record<string, Record<string, number>> = {};
        for (const s of both)
          for (const [sink, groups] of Object.entries(s.sizes())) sizes[sink] = { ...sizes[sink], ...groups };
        return sizes;
      },
    };
  }

  /** The source partitions this member owns. */
  status() {
    return this.source.status();
  }

  pipelineStatus(): PipelineStatus {
    return { ...this.source.pipelineStatus(), rekeyed: this.rekeyed.pipelineStatus() };
  }

  isReady(): boolean {
    return this.source.isReady() && this.rekeyed.isReady();
  }

  health(): { healthy: boolean; reason?: string } {
    const source = this.source.health();
    const rekeyed = this.rekeyed.health();
    if (source.healthy && rekeyed.healthy) return { healthy: true };
    const reasons = [source.reason, rekeyed.reason && `re-keyed windows: ${rekeyed.reason}`];
    return { healthy: false, reason: reasons.filter(Boolean).join('; ') };
  }

  metrics(): Promise<string> {
    return renderMetrics([this.source.registry, this.rekeyed.registry]);
  }

  async getMetrics(): Promise<{ status: PipelineStatus; ready: boolean; metrics: MetricObject[] }> {
    const [source, rekeyed] = await Promise.all([this.source.getMetrics(), this.rekeyed.getMetrics()]);
    return {
      status: this.pipelineStatus(),
      ready: this.isReady(),
      metrics: [...source.metrics, ...rekeyed.metrics],
    };
  }

  pause(): void {
    this.source.pause();
    this.rekeyed.pause();
  }

  resume(): void {
    this.source.resume();
    this.rekeyed.resume();
  }

  /** The source side first: what it commits is in the repartition topic for the re-keyed side's drain. */
  async drain(): Promise<void> {
    await this.source.drain();
    await this.rekeyed.drain();
  }

  /** Both within the shutdown deadline: each commits what it has, neither needs the other to. */
  async stop(): Promise<void> {
    await Promise.all([this.source.stop(), this.rekeyed.stop()]);
  }
}
