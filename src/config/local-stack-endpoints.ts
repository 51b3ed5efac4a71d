// Where the local stack (`sluice stack up`) writes its state file, and the two addresses the library
// reads from it: the Kafka brokers and the ClickHouse URL. The stack itself (src/tools/stack) writes
// the file through these paths; the library never depends on the tools.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The part of the state file that endpoint resolution reads; the full shape is the stack's `StackState`. */
export interface LocalStackEndpoints {
  kafka: { brokers: string };
  clickhouse: { url: string };
}

/** The stack folder: SLUICE_STACK_DIR, else ~/.local/state/sluice/stack, shared by the CLI and the demo. */
export function defaultStackDir(): string {
  return (
    process.env.SLUICE_STACK_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'sluice', 'stack')
  );
}

export function stackStateFile(stackDir: string): string {
  return join(stackDir, 'state.json');
}

/** The running stack's addresses, or undefined when no state file can be read there. */
export async function readLocalStackEndpoints(stackDir: string): Promise<LocalStackEndpoints | undefined> {
  try {
    return JSON.parse(await readFile(stackStateFile(stackDir), 'utf8')) as LocalStackEndpoints;
  } catch {
    return undefined;
  }
}
