// Withdraws the rows an attempt wrote in commit intervals that never committed. Rows reach ClickHouse
// before their interval's transaction commits; when that transaction never does (a crash, a failed
// commit, a fenced zombie), the replay may compute something else (a lookup changed, a stage timed
// out, a window closed on idleness), and the attempt's rows must not outlive it. Before a restored
// partition resumes, every row of its source partition whose commit_interval is after the restored
// checkpoint is deleted (ALTER TABLE … DELETE, a mutation; waited for), in every table of the
// database that holds this pipeline's rows. Both ClickHouse 18.16 and current releases accept it.
// Two things make it hold under load: inserts of an earlier process of the pipeline still running on
// the server (a killed process's last one) are waited for first, and the outcome is checked, not the
// mutation's word: while matching rows are left the delete is issued again.
// `sluice reset --delete-results` deletes a pipeline's rows the same way.
// On a cluster the mutation runs ON CLUSTER on the storage tables (`*_local`): ClickHouse registers it
// per shard, so inserts after it are untouched by it, and runs it on every replica. It is done when no
// replica that answers still has a matching row (a replica out of reach catches up from its queue and its
// shard's replication log when it is back); a shard none of whose replicas answers fails the withdrawal,
// which is retried, the partitions waiting.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { SluiceError } from '../errors.js';
import { clickHouseErrorCode } from './clickhouse-errors.js';
import {
  CLUSTER_MUTATION_TIMEOUT_S,
  DISTRIBUTED_DDL_TIMEOUT,
  clusterDdlSettings,
  clusterReplicasQuery,
  localTableOf,
  onCluster,
  remoteTable,
  replicasOf,
} from './clickhouse-cluster.js';
import type { ClickHouseEndpoint } from './clickhouse-schema.js';
import { quoteIdentifier, relationOfRowsTable, stringLiteral } from './clickhouse-tables.js';

/** How long a mutation may take before the restore gives up (and is retried). */
const MUTATION_DEADLINE_MS = 120_000;
/**
 * How many times a delete is issued while rows it should have deleted are still there. A mutation
 * reported done can leave matching rows (ClickHouse issues #3086, #29955: "re-executing the same
 * mutation removed the remaining rows"); the outcome is what counts, so it is checked and the delete
 * issued again.
 */
const MUTATION_ROUNDS = 3;

/** How long a withdrawal waits for inserts of an earlier process of the pipeline still running on the server. */
const EARLIER_INSERTS_DEADLINE_MS = 30_000;

/**
 * The query id of an insert of result rows: the pipeline and the writing process (its incarnation)
 * first, so a withdrawal can tell the inserts of earlier processes from its own.
 */
export function insertQueryId(pipeline: string, incarnation: string): string {
  return `sluice:${pipeline}:${incarnation}:${randomUUID()}`;
}

/**
 * Waits until no insert of the pipeline by another process, running when this was called, is still
 * running on the server. A killed process's last insert can still be running there (ClickHouse goes on
 * with a body cut short and stores what it read); rows it lands after the delete would outlive the
 * withdrawal. Gives up waiting after a while: a live member of the pipeline elsewhere inserts too.
 */
async function waitForEarlierInserts(
  client: ClickHouseClient,
  pipeline: string,
  incarnation: string,
): Promise<void> {
  const ours = `sluice:${pipeline}:`;
  const query =
    `SELECT query_id FROM system.processes WHERE startsWith(query_id, ${stringLiteral(ours)}) ` +
    `AND NOT startsWith(query_id, ${stringLiteral(`${ours}${incarnation}:`)})`;
  const running = async () =>
    new Set((await rows<{ query_id: string }>(client, query)).map((r) => r.query_id));
  const earlier = await running();
  const deadline = Date.now() + EARLIER_INSERTS_DEADLINE_MS;
  while (earlier.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await running();
    for (const id of earlier) if (!now.has(id)) earlier.delete(id);
  }
}

/** Told when a delete had to be issued again (for the log). */
export type WithdrawalNote = (note: { table: string; left: number; round: number }) => void;

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/**
 * The tables of `database` with the columns of Sluice's result rows: MergeTree tables only (a
 * materialized view over the rows shows the same columns, but its rows are its target table's).
 */
async function resultTables(client: ClickHouseClient, database: string): Promise<string[]> {
  const found = await rows<{ table: string }>(
    client,
    `SELECT table FROM system.columns WHERE database = ${stringLiteral(database)} ` +
      `AND name IN ('pipeline', 'source_partition', 'commit_interval') ` +
      `AND table IN (SELECT name FROM system.tables WHERE database = ${stringLiteral(database)} ` +
      `AND engine LIKE '%MergeTree') GROUP BY table HAVING count() = 3`,
  );
  return found.map((r) => r.table);
}

/**
 * A table a user derives from a window's rows (a materialized view's target) is named
 * `<window>__<anything>` and keeps the rows' bookkeeping columns: uncommitted rows are withdrawn from it
 * as from the window's own (docs/clickhouse.md, "A materialized view that stays exact").
 */
export const DERIVED_TABLE_SEPARATOR = '__';

function isDerivedFrom(table: string, relation: string): boolean {
  return table.startsWith(`${relation}${DERIVED_TABLE_SEPARATOR}`);
}

function notDone(database: string, table: string): SluiceError {
  return new SluiceError(
    `withdrawing uncommitted rows from ${database}.${table}: the mutation is not done after ` +
      `${MUTATION_DEADLINE_MS / 1000} s (see system.mutations)`,
    { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true },
  );
}

async function waitForMutations(client: ClickHouseClient, database: string, table: string): Promise<void> {
  const deadline = Date.now() + MUTATION_DEADLINE_MS;
  for (;;) {
    const [pending] = await rows<{ n: string }>(
      client,
      `SELECT count() AS n FROM system.mutations WHERE database = ${stringLiteral(database)} ` +
        `AND table = ${stringLiteral(table)} AND is_done = 0`,
    );
    if (Number(pending?.n ?? 0) === 0) return;
    if (Date.now() > deadline) throw notDone(database, table);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * On a cluster: until every replica that answers has no row matching `predicate` in `table`, each shard
 * having at least one that answers.
 */
async function waitOnReplicas(
  client: ClickHouseClient,
  endpoint: ClickHouseEndpoint,
  cluster: string,
  table: string,
  predicate: string,
): Promise<void> {
  const replicas = replicasOf(await rows(client, clusterReplicasQuery(cluster)));
  const deadline = Date.now() + MUTATION_DEADLINE_MS;
  for (;;) {
    const counts = await Promise.all(
      replicas.map((replica) =>
        rows<{ n: string }>(
          client,
          `SELECT count() AS n FROM ${remoteTable(replica, endpoint.database, table, endpoint)} WHERE ${predicate}`,
        ).then(
          ([found]) => Number(found?.n ?? 0),
          () => undefined,
        ),
      ),
    );
    const unanswered = [...new Set(replicas.map((r) => r.shard))].filter((shard) =>
      replicas.every((r, i) => r.shard !== shard || counts[i] === undefined),
    );
    if (unanswered.length > 0)
      throw new SluiceError(
        `withdrawing uncommitted rows from ${endpoint.database}.${table}: no server of shard ` +
          `${unanswered.join(', ')} of cluster ${cluster} answers`,
        { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true },
      );
    if (counts.every((n) => n === undefined || n === 0)) return;
    if (Date.now() > deadline) throw notDone(endpoint.database, table);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Deletes the pipeline's rows of each source partition written after its checkpoint's interval, and
 * resolves once they are gone; how many rows went, per table.
 */
export async function withdrawUncommitted(
  client: ClickHouseClient,
  endpoint: ClickHouseEndpoint,
  pipeline: string,
  checkpoints: ReadonlyMap<number, number>,
  windows: WindowTables,
  /** This process's incarnation (insertQueryId): inserts of other ones still running are waited for. */
  incarnation: string,
  note?: WithdrawalNote,
): Promise<Map<string, number>> {
  const withdrawn = new Map<string, number>();
  if (checkpoints.size === 0) return withdrawn;
  await waitForEarlierInserts(client, pipeline, incarnation);
  const after = [...checkpoints]
    .map(([partition, interval]) => `(source_partition = ${partition} AND commit_interval > ${interval})`)
    .join(' OR ');
  const tables = await tablesOf(client, endpoint.database, windows);
  return deleteWhere(client, endpoint, `pipeline = ${stringLiteral(pipeline)} AND (${after})`, tables, note);
}

/**
 * The windows whose rows a member writes, by name, each with its configured table (a name, or a routing
 * template) when it has one. A pipeline with re-keyed windows has two members, each numbering its own
 * partitions and commit intervals: each withdraws from its own windows' tables only.
 */
export type WindowTables = ReadonlyMap<string, string | undefined>;

/** The result tables of these windows: their own names, and every table the ledger has them in (routed ones). */
async function tablesOf(
  client: ClickHouseClient,
  database: string,
  windows: WindowTables,
): Promise<string[]> {
  if (windows.size === 0) return [];
  const names = new Set<string>();
  for (const [window, table] of windows)
    names.add(table !== undefined && !table.includes('{') ? table : window);
  const [hasLedger] = await rows<{ n: string }>(
    client,
    `SELECT count() AS n FROM system.tables WHERE database = ${stringLiteral(database)} AND name = 'sluice_windows'`,
  );
  if (Number(hasLedger?.n ?? 0) > 0) {
    const recorded = await rows<{ table_name: string }>(
      client,
      `SELECT table_name FROM ${quoteIdentifier(database)}.sluice_windows WHERE window_name IN ` +
        `(${[...windows.keys()].map(stringLiteral).join(', ')})`,
    );
    for (const r of recorded) names.add(r.table_name);
  }
  // Rows tables (rowsTableOf) hold the rows; a table of Sluice 0.1 not yet moved under its view, too;
  // and tables derived from them.
  return (await resultTables(client, database)).filter(
    (table) =>
      names.has(table) ||
      names.has(relationOfRowsTable(table) ?? '') ||
      [...names].some((name) => isDerivedFrom(table, name)),
  );
}

/** The rows of a result table matching `predicate` (on a cluster, of every shard). */
async function countWhere(
  client: ClickHouseClient,
  { database, cluster }: ClickHouseEndpoint,
  table: string,
  predicate: string,
): Promise<number> {
  const from =
    cluster === undefined
      ? `${quoteIdentifier(database)}.${quoteIdentifier(table)}`
      : `cluster(${stringLiteral(cluster)}, ${quoteIdentifier(database)}, ${quoteIdentifier(table)})`;
  const [found] = await rows<{ n: string }>(client, `SELECT count() AS n FROM ${from} WHERE ${predicate}`);
  return Number(found?.n ?? 0);
}

/**
 * ALTER … DELETE, and its wait: on one server for the mutation, on a cluster for the rows on every
 * replica; then the rows are counted, and the delete issued again while any matching row is left.
 */
async function mutate(
  client: ClickHouseClient,
  endpoint: ClickHouseEndpoint,
  table: string,
  predicate: string,
  note?: WithdrawalNote,
): Promise<void> {
  const { database, cluster } = endpoint;
  const name = `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
  for (let round = 1; ; round += 1) {
    try {
      await client.command({
        query: `ALTER TABLE ${name}${onCluster(cluster)} DELETE WHERE ${predicate}`,
        clickhouse_settings: clusterDdlSettings(cluster, CLUSTER_MUTATION_TIMEOUT_S),
      });
    } catch (error) {
      // Some servers have not run it yet: they will, from the DDL queue; the wait below decides.
      if (cluster === undefined || clickHouseErrorCode(error) !== DISTRIBUTED_DDL_TIMEOUT) throw error;
    }
    if (cluster === undefined) await waitForMutations(client, database, table);
    else await waitOnReplicas(client, endpoint, cluster, table, predicate);
    const left = await countWhere(client, endpoint, table, predicate);
    if (left === 0) return;
    note?.({ table, left, round });
    if (round >= MUTATION_ROUNDS)
      throw new SluiceError(
        `withdrawing uncommitted rows from ${database}.${table}: ${left} matching row(s) left after ` +
          `${round} deletes reported done`,
        { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true },
      );
  }
}

/** Deletes the rows matching `predicate` from the result tables (all, or these), waiting for it; how many, per table. */
async function deleteWhere(
  client: ClickHouseClient,
  endpoint: ClickHouseEndpoint,
  predicate: string,
  only?: readonly string[],
  note?: WithdrawalNote,
): Promise<Map<string, number>> {
  const deleted = new Map<string, number>();
  for (const table of only ?? (await resultTables(client, endpoint.database))) {
    const count = await countWhere(client, endpoint, table, predicate);
    if (count === 0) continue;
    await mutate(client, endpoint, table, predicate, note);
    deleted.set(table, count);
  }
  return deleted;
}

/**
 * `sluice reset --delete-results`: the pipeline's rows of the given source partitions, of windows
 * ending after `fromMs` (all of them without it). A table left empty forgets the definition its rows
 * were written under (sluice_windows), so the next start records the pipeline's definition now.
 */
export async function deleteResults(
  client: ClickHouseClient,
  endpoint: ClickHouseEndpoint,
  pipeline: string,
  partitions: readonly number[],
  fromMs: number | undefined,
): Promise<Map<string, number>> {
  if (partitions.length === 0) return new Map();
  const predicate =
    `pipeline = ${stringLiteral(pipeline)} AND source_partition IN (${partitions.join(', ')})` +
    (fromMs === undefined ? '' : ` AND window_end_ms > ${Math.floor(fromMs)}`);
  const { database, cluster } = endpoint;
  const deleted = await deleteWhere(client, endpoint, predicate);
  const [hasLedger] = await rows<{ n: string }>(
    client,
    `SELECT count() AS n FROM system.tables WHERE database = ${stringLiteral(database)} AND name = 'sluice_windows'`,
  );
  if (Number(hasLedger?.n ?? 0) === 0) return deleted;
  const ledger = cluster === undefined ? 'sluice_windows' : localTableOf('sluice_windows');
  for (const table of deleted.keys()) {
    if ((await countWhere(client, endpoint, table, '1')) > 0) continue;
    // The ledger names the relation users read (the view over the rows table).
    const relation = relationOfRowsTable(table) ?? table;
    await mutate(client, endpoint, ledger, `table_name = ${stringLiteral(relation)}`);
  }
  return deleted;
}
