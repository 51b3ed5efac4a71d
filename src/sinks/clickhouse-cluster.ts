// Where a pipeline's ClickHouse tables live: on one server, or on a cluster of the servers'
// `remote_servers` (sinks.clickhouse.cluster). On a cluster each table Sluice writes is a pair:
// `<name>_local`, a Replicated*MergeTree on every server (replicas of a shard share its ZooKeeper path,
// `/clickhouse/tables/{shard}/<database>/<name>_local`, from the servers' `{shard}` and `{replica}`
// macros), and `<name>`, a Distributed table over them, sharded by the row's identity so that every
// version of a row lands on the same shard (and FINAL, run per shard, sees them all). Sluice inserts
// into and reads from `<name>`, as on one server; DDL runs ON CLUSTER, so every server gets it.
// Inserts are synchronous (insert_distributed_sync): acknowledged once the shard has the rows, which is
// what "commit after the sink has the data" needs. Without an insert token (before 22.2) a replicated
// table would drop a block equal to one it stored before; a replay writes such blocks on purpose (rows
// withdrawn after a crash, computed again), so block deduplication is off there: a retry's duplicate is
// the same row at the same version, which the ReplacingMergeTree folds.
import { quoteIdentifier, stringLiteral } from './clickhouse-sql.js';
import type { ClickHouseCapabilities } from './clickhouse-capabilities.js';

/** How long an ON CLUSTER statement waits for every server before ClickHouse answers with a timeout. */
export const CLUSTER_DDL_TIMEOUT_S = 60;

/** ClickHouse's code for an ON CLUSTER statement some servers have not run yet (they will, from the queue). */
export const DISTRIBUTED_DDL_TIMEOUT = 159;

/** The storage table under a cluster's Distributed table of this name. */
export function localTableOf(table: string): string {
  return `${table}_local`;
}

/** ` ON CLUSTER <cluster>` for DDL, or nothing on one server. */
export function onCluster(cluster: string | undefined): string {
  return cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(cluster)}`;
}

/**
 * The engine clause of a storage table: `engine(args)` on one server, its Replicated twin on a cluster
 * (the ZooKeeper path per shard and table, the replica from the server's macro).
 */
export function storageEngine(
  engine: string,
  args: readonly string[],
  placement: { database: string; cluster?: string },
  table: string,
): string {
  if (placement.cluster === undefined) return `${engine}${args.length > 0 ? `(${args.join(', ')})` : ''}`;
  const path = stringLiteral(`/clickhouse/tables/{shard}/${placement.database}/${table}`);
  return `Replicated${engine}(${[path, "'{replica}'", ...args].join(', ')})`;
}

/** The Distributed table `table` over `<table>_local` on every server of the cluster. */
export function distributedTableDdl(
  database: string,
  table: string,
  cluster: string,
  shardingKey: readonly string[],
): string {
  const db = quoteIdentifier(database);
  const local = quoteIdentifier(localTableOf(table));
  return (
    `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(table)}${onCluster(cluster)} AS ${db}.${local} ` +
    `ENGINE = Distributed(${quoteIdentifier(cluster)}, ${db}, ${local}, ` +
    `cityHash64(${shardingKey.map(quoteIdentifier).join(', ')}))`
  );
}

/** The settings of every insert of result rows: the token where the server takes one, and on a cluster, a synchronous insert. */
export function insertSettings(
  cluster: string | undefined,
  server: ClickHouseCapabilities,
  token: string | undefined,
): Record<string, string | number> {
  const settings: Record<string, string | number> = {};
  if (server.insertDeduplicationToken && token !== undefined) settings.insert_deduplication_token = token;
  if (cluster !== undefined) {
    settings.insert_distributed_sync = 1;
    if (!settings.insert_deduplication_token) settings.insert_deduplicate = 0;
  }
  return settings;
}

/**
 * How long a withdrawal's ON CLUSTER mutation waits for every server: shorter, as its outcome is checked
 * on the replicas themselves (a server that is down runs it from the queue when it is back).
 */
export const CLUSTER_MUTATION_TIMEOUT_S = 10;

/** The settings of an ON CLUSTER statement: a bounded wait for the servers. */
export function clusterDdlSettings(
  cluster: string | undefined,
  timeoutS = CLUSTER_DDL_TIMEOUT_S,
): Record<string, number> {
  return cluster === undefined ? {} : { distributed_ddl_task_timeout: timeoutS };
}

/** A server of the cluster: its native address (what remote() takes) and its shard. */
export interface ClusterReplica {
  address: string;
  shard: number;
}

/** The query listing a cluster's servers (system.clusters), rows of {host_name, port, shard_num}. */
export function clusterReplicasQuery(cluster: string): string {
  return `SELECT host_name, port, shard_num FROM system.clusters WHERE cluster = ${stringLiteral(cluster)}`;
}

export function replicasOf(
  rows: readonly { host_name: string; port: number | string; shard_num: number | string }[],
): ClusterReplica[] {
  return rows.map((r) => ({ address: `${r.host_name}:${r.port}`, shard: Number(r.shard_num) }));
}

/** `remote()` over one server's table, with the sink's credentials. */
export function remoteTable(
  replica: ClusterReplica,
  database: string,
  table: string,
  credentials: { username: string; password: string },
): string {
  return (
    `remote(${stringLiteral(replica.address)}, ${quoteIdentifier(database)}, ${quoteIdentifier(table)}, ` +
    `${stringLiteral(credentials.username)}, ${stringLiteral(credentials.password)})`
  );
}
