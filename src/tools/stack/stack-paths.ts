// Where the local stack keeps its downloaded jars: a cache shared by every checkout. The running
// stack's folder (state file, data, logs) is the library's `defaultStackDir` in
// src/config/local-stack-endpoints.ts, so that endpoint resolution finds it without the tools.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The jar cache: SLUICE_CACHE_DIR, else $XDG_CACHE_HOME/sluice, else ~/.cache/sluice. */
export function cacheDir(): string {
  return (
    process.env.SLUICE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sluice')
  );
}
