// Loads the processors of stages declared in YAML or JSON as `module` (+ `export`), so a config file
// can name custom code the way `definePipeline` passes a function. Paths are relative to the config
// file; package names resolve as imports do.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import type { Pipeline } from '../config/schema.js';
import type { Processor } from './processor.js';

function specifierOf(module: string, baseDir: string): string {
  if (module.startsWith('.') || isAbsolute(module)) return pathToFileURL(resolve(baseDir, module)).href;
  return module;
}

/** Returns the pipeline with every `module` stage carrying its loaded `process` function. */
export async function loadStageModules(pipeline: Pipeline, baseDir: string): Promise<Pipeline> {
  const stages = await Promise.all(
    pipeline.stages.map(async (stage, index) => {
      if (!('module' in stage) || 'process' in stage) return stage;
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
  return { ...pipeline, stages };
}
