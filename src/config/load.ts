// Reads a pipeline from a YAML or JSON file, validates it and loads its module stages; parse errors
// name the file and line.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadStageModules } from './stage-modules.js';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import type { Pipeline } from './schema.js';
import { validatePipeline } from './validate.js';

export async function loadPipelineFile(path: string): Promise<Pipeline> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: '', expected: 'a readable YAML or JSON file', found: path }], path, error);
  }
  let document: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError([{ path: '', expected: 'valid YAML or JSON', found: reason }], path, error);
  }
  const pipeline = validatePipeline(document, path);
  // Schema files are named relative to the config file, like module stages.
  const relative = (file: string | undefined) =>
    file === undefined ? undefined : resolve(dirname(path), file);
  const parse = {
    ...pipeline.parse,
    schema: relative(pipeline.parse.schema),
    writerSchema: relative(pipeline.parse.writerSchema),
  };
  const stages = pipeline.stages.map((stage) =>
    'type' in stage && stage.type === 'lookup' && 'file' in stage.from
      ? { ...stage, from: { ...stage.from, file: resolve(dirname(path), stage.from.file) } }
      : stage,
  );
  return loadStageModules({ ...pipeline, parse, stages }, dirname(path));
}
