// The docs can drift from the tree like code can: every relative link in README.md, CONTRIBUTING.md
// and docs/*.md must reach a file that exists, every #anchor a heading of its page (GitHub's slugs),
// and the README stays a landing page. Pure file reads, no network.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const README_MAX_BYTES = 25_000;

const pages = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync('docs')
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file)),
];

/** The text outside fenced code blocks, where links and headings count. */
function prose(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```|~~~)/.exec(line)?.[1];
    if (marker && (fence === undefined || fence === marker)) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: its text lower-cased, punctuation but '-' and '_' dropped, spaces to '-'. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a page offers; a repeated heading gets -1, -2, … as on GitHub. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/** Link targets of a page: inline links and images, and reference definitions; code spans left out. */
export function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of prose(markdown)) {
    const text = line.replace(/`[^`]*`/g, '``');
    for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]!);
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text);
    if (definition) targets.push(definition[1]!);
  }
  return targets;
}

const external = /^[a-z][a-z0-9+.-]*:|^\/\//i;

/** What is wrong with one link of a page, or undefined when it resolves. */
function problem(page: string, target: string): string | undefined {
  if (external.test(target)) return undefined;
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  if (path.startsWith('/')) return 'is absolute; use a path relative to the page';
  const file = path === '' ? page : normalize(join(dirname(page), path));
  if (!existsSync(file)) return `points at ${file}, which does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md'))
    return `has an anchor on ${file}, not a Markdown page`;
  const offered = anchors(readFileSync(file, 'utf8'));
  return offered.has(anchor) ? undefined : `points at #${anchor}, which is no heading of ${file}`;
}

describe('docs links', () => {
  it('makes slugs as GitHub does', () => {
    expect(slug('The local stack (no Docker needed)')).toBe('the-local-stack-no-docker-needed');
    expect(slug('`lateEvents`')).toBe('lateevents');
    expect(slug('Reprocessing: replaying dead letters')).toBe('reprocessing-replaying-dead-letters');
    expect(slug('What `npm run bench` measures')).toBe('what-npm-run-bench-measures');
    expect(slug('State, restarts and rebalances')).toBe('state-restarts-and-rebalances');
    expect(slug('snake_case and dash-case')).toBe('snake_case-and-dash-case');
  });

  it('finds links outside code, and not inside it', () => {
    const page = 'See [a](a.md#x) and `[b](b.md)`.\n\n```md\n[c](c.md)\n```\n\n[d]: d.md\n![e](e.png "E")';
    expect(linkTargets(page)).toEqual(['a.md#x', 'd.md', 'e.png']);
  });

  it.each(pages)('every relative link and anchor in %s resolves', (page) => {
    const broken = linkTargets(readFileSync(page, 'utf8'))
      .map((target) => ({ target, problem: problem(page, target) }))
      .filter((link) => link.problem !== undefined)
      .map((link) => `${page}: (${link.target}) ${link.problem}`);
    expect(broken).toEqual([]);
  });

  it(`keeps README.md a landing page of at most ${README_MAX_BYTES} bytes`, () => {
    const bytes = readFileSync('README.md').byteLength;
    expect(bytes, `README.md is ${bytes} bytes; move detail to docs/`).toBeLessThanOrEqual(README_MAX_BYTES);
  });
});
