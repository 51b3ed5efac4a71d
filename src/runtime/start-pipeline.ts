// Starting a pipeline: compiled once, then one member of its consumer group; with re-keyed windows
// (rekeying.ts) a second member, in the group `<groupId>-rekeyed`, computes those from the repartition
// topic the first one writes (it starts once the first has created that topic).
import type { Endpoints } from '../config/endpoints.js';
import type { Pipeline } from '../config/schema.js';
import type { Logger } from '../ops/logger.js';
import { PipelineMetrics } from '../ops/metrics.js';
import { compilePipeline, rekeyedPipelineOf } from './compiled-pipeline.js';
import { PipelineRunner, type RunningPipeline } from './pipeline-runner.js';
import { RekeyedPipeline } from './rekeyed-pipeline.js';

/** Compiles the pipeline and starts its member(s); resolves once they have joined their groups. */
export async function startPipeline(
  pipeline: Pipeline,
  endpoints: Endpoints,
  logger: Logger,
): Promise<RunningPipeline> {
  const metrics = new PipelineMetrics(pipeline.name);
  const compiled = await compilePipeline(pipeline, endpoints, {
    baseDir: process.cwd(),
    logger,
    observedLookup: (stage, result) => metrics.lookups.inc({ stage, result }),
  });
  const source = new PipelineRunner(compiled, endpoints, logger, metrics);
  try {
    await source.start();
  } catch (error) {
    await compiled.close().catch(() => undefined);
    throw error;
  }
  if (!compiled.repartition) return source;
  const rekeyed = new PipelineRunner(
    rekeyedPipelineOf(pipeline, compiled, source.sourcePartitions ?? compiled.repartition.partitions),
    endpoints,
    logger.child({ side: 'rekeyed' }),
    new PipelineMetrics(pipeline.name, 'rekeyed'),
  );
  try {
    await rekeyed.start();
  } catch (error) {
    await source.stop().catch(() => undefined);
    throw error;
  }
  return new RekeyedPipeline(source, rekeyed);
}
