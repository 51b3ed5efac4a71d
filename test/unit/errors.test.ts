// Every error Sluice raises is a SluiceError (src/errors.ts): a code, a retriable flag and a cause.
// A plain `new Error(...)` or a class extending Error anywhere else in src/ fails here, by file and line.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sluice from '../../src/index.js';
import { SluiceError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = join(root, 'src');
const ROOT_OF_THE_HIERARCHY = join(src, 'errors.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [path] : [];
  });
}

const PLAIN_ERROR = /\bnew (Error|TypeError|RangeError)\(|\bextends (Error|TypeError|RangeError)\b/;

describe('the error hierarchy', () => {
  it('has no plain Error thrown or extended in src/ outside src/errors.ts', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(src)) {
      if (file === ROOT_OF_THE_HIERARCHY) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (PLAIN_ERROR.test(line)) offenders.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders, 'use a SluiceError subclass, or SluiceError with a code').toEqual([]);
  });

  it('exports only SluiceError classes as errors from the public API', () => {
    const errorClasses = Object.entries(sluice).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof Error,
    );
    expect(errorClasses.map(([name]) => name)).toContain('StageAbortError');
    for (const [name, value] of errorClasses)
      expect(value === SluiceError || value.prototype instanceof SluiceError, name).toBe(true);
  });
});
