// Loads the processors of stages declared in YAML or JSON as `module` (+ `export`), so a config file
// can name custom code the way `definePipeline` passes a function. Paths are relative to the config
// file; package names resolve as imports do.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './config-error.js';
import type { Pipeline, StageConfig } from './schema.js';
import type { Processor } from './user-functions.js';

function specifierOf(module: string, baseDir: string): string {
  if (module.startsWith('.') || isAbsolute(module)) return pathToFileURL(resolve(baseDir, module)).href;
  return module;
}

/** A stage whose code is at hand: every `module` stage carries the `process` its module exports. */
export type LoadedStage =
  | Exclude<StageConfig, { module: string }>
  | (Extract<StageConfig, { module: string }> & { process: Processor });

/** Every stage with its code: `module` stages get the function their module exports. */
export async function loadStages(stages: readonly StageConfig[], baseDir: string): Promise<LoadedStage[]> {
  return Promise.all(
    stages.map(async (stage, index): Promise<LoadedStage> => {
      if (!('module' in stage)) return stage;
      if ('process' in stage && typeof stage.process === 'function') return stage as LoadedStage; // loaded already (loadPipelineFile)
      const path = `stages[${index}].module`;
      let loaded: Record<string, unknown>;
      try {
        loaded = (await import(specifierOf(stage.module, baseDir))) as Record<string, unknown>;
      } catch (error) {
        throw new ConfigError(
          [{ path, expected: 'a module that can be imported', found: stage.module }],
          undefined,
          error,
        );
      }
      const process = loaded[stage.export];
      if (typeof process !== 'function')
        throw new ConfigError([
          {
            path: `stages[${index}].export`,
            expected: `a function exported as "${stage.export}" by ${stage.module}`,
            found: process === undefined ? undefined : typeof process,
          },
        ]);
      return { ...stage, process: process as Processor };
    }),
  );
}

/**
 * The pipeline with every `module` stage carrying its loaded `process` function, so a config file's
 * code fails to load when the file is read, not when the pipeline starts.
 */
export async function loadStageModules(pipeline: Pipeline, baseDir: string): Promise<Pipeline> {
  return { ...pipeline, stages: await loadStages(pipeline.stages, baseDir) };
}
