// Where the local stack keeps things: downloaded jars in a cache shared by every checkout, and the
// running stack (state file, data, logs) in one folder per stack.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The jar cache: SLUICE_CACHE_DIR, else $XDG_CACHE_HOME/sluice, else ~/.cache/sluice. */
export function cacheDir(): string {
  return (
    process.env.SLUICE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sluice')
  );
}

/** The stack folder: SLUICE_STACK_DIR, else ~/.local/state/sluice/stack, shared by the CLI and the demo. */
export function defaultStackDir(): string {
  return (
    process.env.SLUICE_STACK_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'sluice', 'stack')
  );
}
