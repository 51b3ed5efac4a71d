// What the ClickHouse server offers beyond what every release Sluice supports accepts, decided once per
// sink from `SELECT version()`. Sluice writes the baseline (ClickHouse 18.16, Debian's package) to
// every server and takes the better path where the server has it:
// - DateTime64(3, 'UTC') bounds for session windows (20.1+): a session starts at any millisecond, and
//   its own columns can say so (the *_ms columns stay, for every release; tumbling and sliding windows
//   are whole seconds and keep DateTime);
// - LowCardinality(String) group-key columns (19.x+; experimental before): smaller and faster to
//   filter on, the same to read;
// - insert_deduplication_token (22.2+) with a deduplication window on the rows table: a retried insert
//   of a batch the server already has (an answer lost on the way back) is dropped by the server, not
//   stored twice until merges replace it.
// Tables keep the types they were made with: a server upgraded under existing tables changes nothing
// until a table is made anew.

export interface ClickHouseCapabilities {
  /** The server's version as it reports it (`18.16.1`, `26.7.2.1`). */
  version: string;
  dateTime64: boolean;
  lowCardinality: boolean;
  insertDeduplicationToken: boolean;
}

/** What ClickHouse 18.16 accepts: the DDL every supported release takes. */
export const BASELINE: ClickHouseCapabilities = {
  version: '18.16',
  dateTime64: false,
  lowCardinality: false,
  insertDeduplicationToken: false,
};

/** How many recent insert tokens a rows table remembers (non_replicated_deduplication_window). */
export const DEDUPLICATION_WINDOW = 1000;

const atLeast = (found: readonly number[], major: number, minor: number) =>
  (found[0] ?? 0) > major || ((found[0] ?? 0) === major && (found[1] ?? 0) >= minor);

export function capabilitiesOf(version: string): ClickHouseCapabilities {
  const parts = version.split('.').map(Number);
  if (parts.length < 2 || parts.some((n) => !Number.isInteger(n))) return { ...BASELINE, version };
  return {
    version,
    dateTime64: atLeast(parts, 20, 1),
    lowCardinality: atLeast(parts, 19, 1),
    insertDeduplicationToken: atLeast(parts, 22, 2),
  };
}

/** The capabilities as a line for logs and `sluice migrate`: what this server gets. */
export function describeCapabilities(capabilities: ClickHouseCapabilities): string {
  const paths = [
    capabilities.dateTime64 ? "DateTime64(3, 'UTC') session bounds" : "DateTime('UTC') session bounds",
    capabilities.lowCardinality ? 'LowCardinality group keys' : 'String group keys',
    capabilities.insertDeduplicationToken
      ? 'retried inserts deduplicated by the server'
      : 'retried inserts replaced at merges',
  ];
  return `ClickHouse ${capabilities.version}: ${paths.join(', ')}`;
}
