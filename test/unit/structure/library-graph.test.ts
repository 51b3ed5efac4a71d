// The library's import graph, read from the sources: src/index.ts never reaches the CLI or the tools
// (bench, local stack, producer, demo), and the library's files and folders form no import circle but the
// known ones listed below. Type-only imports count: they reach the published .d.ts files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');
const OUTSIDE_THE_LIBRARY = ['cli', 'tools'];

/**
 * Import circles present today, which the test holds to exactly: it fails when a new one appears and
 * when a listed one is gone (then delete its entry). Files: each circle's files, sorted, joined by
 * ' <-> '. Folders: a folder graph has too many circles to list (61 today), so the list holds the
 * folder imports that lie on a circle; any new circle adds one.
 */
const KNOWN_FILE_CYCLES: string[] = [];
const KNOWN_FOLDER_IMPORTS_ON_CYCLES: string[] = [];

const repoPath = (file: string) => relative(ROOT, file).split('\\').join('/');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The .ts files that `file` imports or re-exports (statically or with `import()`), within src/. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => {
      const target = resolve(dirname(file), specifier);
      const candidates = [target.replace(/\.js$/, '.ts'), target, join(target, 'index.ts')];
      const found = candidates.find((candidate) => candidate.endsWith('.ts') && existsSync(candidate));
      if (!found) throw new Error(`${repoPath(file)} imports '${specifier}', which is no file under src/`);
      return found;
    });
}

/** The folder of src/ a file belongs to; files at the top of src/ (index.ts, errors.ts, …) are their own. */
function folderOf(file: string): string {
  return relative(SRC, file).split(/[\\/]/)[0]!;
}

/** The nodes `start` reaches, each with the node it was first reached from (breadth first: shortest paths). */
function reachableFrom(graph: Map<string, Set<string>>, start: string): Map<string, string | undefined> {
  const reachedFrom = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start];
  for (let node = queue.shift(); node !== undefined; node = queue.shift())
    for (const next of graph.get(node) ?? [])
      if (!reachedFrom.has(next)) {
        reachedFrom.set(next, node);
        queue.push(next);
      }
  return reachedFrom;
}

/** The path from the start of a `reachableFrom` walk to `node`. */
function pathTo(reachedFrom: Map<string, string | undefined>, node: string): string[] {
  const path = [node];
  for (let from = reachedFrom.get(node); from !== undefined; from = reachedFrom.get(from)) path.unshift(from);
  return path;
}

/** The edges `from -> to` that lie on a circle, each with the shortest circle through it. */
function edgesOnCycles(graph: Map<string, Set<string>>): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const [from, targets] of graph)
    for (const to of targets) {
      const back = reachableFrom(graph, to);
      if (back.has(from)) found.set(`${from} -> ${to}`, [from, ...pathTo(back, from)]);
    }
  return found;
}

/** The circles of a graph as groups of nodes that all reach each other, each sorted. */
function cycleGroups(graph: Map<string, Set<string>>): string[][] {
  const groups = new Map<string, Set<string>>();
  for (const [edge] of edgesOnCycles(graph)) {
    const [from, to] = edge.split(' -> ') as [string, string];
    const group = new Set([...(groups.get(from) ?? [from]), ...(groups.get(to) ?? [to])]);
    for (const node of group) groups.set(node, group);
  }
  return [...new Set(groups.values())].map((group) => [...group].sort());
}

/** The import graph of the files under src/ (paths relative to src/), all of them or the library's. */
function importGraph(only: 'all' | 'library'): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC))
    if (only === 'all' || !OUTSIDE_THE_LIBRARY.includes(folderOf(file)))
      graph.set(relative(SRC, file), new Set(importsOf(file).map((target) => relative(SRC, target))));
  return graph;
}

describe('the library import graph', () => {
  it('does not reach src/cli or src/tools from src/index.ts', () => {
    const reachedFrom = reachableFrom(importGraph('all'), 'index.ts');
    const escapes = [...reachedFrom.keys()]
      .filter((file) => OUTSIDE_THE_LIBRARY.includes(folderOf(join(SRC, file))))
      .map((file) =>
        pathTo(reachedFrom, file)
          .map((step) => `src/${step}`)
          .join(' -> '),
      );
    expect(escapes, 'src/index.ts reaches files outside the library').toEqual([]);
    expect(reachedFrom.size).toBeGreaterThan(20); // the walk did follow the imports
  });

  it('has no import circle between files of the library other than the known ones', () => {
    const found = cycleGroups(importGraph('library')).map((files) => files.join(' <-> '));
    expect(
      found.filter((cycle) => !KNOWN_FILE_CYCLES.includes(cycle)),
      'new import circles between files',
    ).toEqual([]);
    expect(
      KNOWN_FILE_CYCLES.filter((known) => !found.includes(known)),
      'circles no longer found: delete them from KNOWN_FILE_CYCLES',
    ).toEqual([]);
  });

  it('has no import circle between folders of the library other than the known ones', () => {
    const files = importGraph('library');
    const folders = new Map<string, Set<string>>();
    const importsBehind = new Map<string, string[]>(); // 'a -> b' between folders: the file imports
    for (const [file, targets] of files)
      for (const target of targets) {
        const [from, to] = [folderOf(join(SRC, file)), folderOf(join(SRC, target))];
        if (from === to) continue;
        folders.set(from, (folders.get(from) ?? new Set()).add(to));
        const edge = `${from} -> ${to}`;
        importsBehind.set(edge, [...(importsBehind.get(edge) ?? []), `src/${file} -> src/${target}`]);
      }
    const found = edgesOnCycles(folders);
    const unexpected = [...found]
      .filter(([edge]) => !KNOWN_FOLDER_IMPORTS_ON_CYCLES.includes(edge))
      .map(([edge, cycle]) =>
        [`${edge} closes ${cycle.join(' -> ')}`, ...importsBehind.get(edge)!].join('\n  '),
      );
    expect(unexpected, 'new import circles between folders').toEqual([]);
    expect(
      KNOWN_FOLDER_IMPORTS_ON_CYCLES.filter((known) => !found.has(known)),
      'folder imports no longer on a circle: delete them from KNOWN_FOLDER_IMPORTS_ON_CYCLES',
    ).toEqual([]);
  });
});
