// A compiled pipeline for unit tests, without I/O: filters and TypeScript stages are prepared here;
// enrichment stages that load files or query ClickHouse need compilePipeline.
import type { Pipeline } from '../../src/config/schema.js';
import { assemblePipeline, type CompiledPipeline } from '../../src/runtime/compiled-pipeline.js';
import { filterProcessor } from '../../src/stages/filter-stage.js';
import type { PreparedStage } from '../../src/stages/prepared-stages.js';
import { createEventContract } from '../../src/stages/event-contract.js';
import { createDecoder } from '../../src/stages/record-decoders.js';
import { defineWindow } from '../../src/windows/window-definition.js';

export function compiledForTest(pipeline: Pipeline): CompiledPipeline {
  const stages = pipeline.stages.map((stage): PreparedStage => {
    const process =
      'process' in stage
        ? stage.process
        : 'type' in stage && stage.type === 'filter'
          ? filterProcessor(stage.field, stage.in)
          : undefined;
    if (!process) throw new Error(`stage ${stage.name} takes I/O to prepare: use compilePipeline`);
    const { name, concurrency, timeout, retry, onError } = stage;
    return { name, concurrency, timeout, retry, onError, process };
  });
  const decoder = createDecoder(pipeline.parse, { baseDir: process.cwd() });
  const contract = createEventContract(pipeline.parse, process.cwd());
  const compiled = assemblePipeline(pipeline, stages, decoder, contract, () => Promise.resolve());
  // One partition computing every window, whichever side of the re-keying it would run on (the unit
  // tests exercise a partition's computation, not the re-keying).
  const windows = pipeline.windows.map((w) => defineWindow(w, pipeline.time, pipeline.source.keyedBy));
  return {
    ...compiled,
    windows: { ...compiled.windows, windows },
    sinks: { ...compiled.sinks, windows: pipeline.windows },
    repartition: undefined,
  };
}
