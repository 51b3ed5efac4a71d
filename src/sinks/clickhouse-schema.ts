// Brings a ClickHouse database up to what a pipeline writes: the database, one table per window (or per
// routed table), the columns an older Sluice's tables lack, and the `.sql` files of a migrations folder,
// each applied once and recorded; a table whose window changed meaning since its rows were written is
// refused (sluice_windows records each table's definition). Idempotent: running it again changes nothing. Used at start-up and by
// `sluice migrate`.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { WindowConfig } from '../config/schema.js';
import { SluiceError, messageOf } from '../errors.js';
import {
  capabilitiesOf,
  describeCapabilities,
  type ClickHouseCapabilities,
} from './clickhouse-capabilities.js';
import { withMillisecondBounds, type ResultRow } from './result-row.js';
import { clickHouseErrorText, isClickHouseAuthentication } from './clickhouse-errors.js';
import {
  missingColumnDdl,
  quoteIdentifier,
  rowsTableOf,
  sortingKeyProblem,
  stringLiteral,
  viewColumns,
  windowShardingKey,
  windowTableDdl,
  windowViewDdl,
} from './clickhouse-tables.js';
import {
  clusterDdlSettings,
  distributedTableDdl,
  insertSettings,
  localTableOf,
  onCluster,
  storageEngine,
} from './clickhouse-cluster.js';
import { differencesOf } from '../windows/definition-changes.js';
import { defineWindow, fingerprintOf as definitionFingerprint } from '../windows/window-definition.js';

/** The fingerprint of what a window's rows mean (grace is not part of it; re-keying is). */
function fingerprintOf(window: WindowConfig, keyedBy: readonly string[] | undefined): string {
  return defineWindow(window, { grace: 0 }, keyedBy).fingerprint;
}

/** What the rows of a table older than the ledger mean: Sluice 0.1 computed every window per partition. */
function legacyFingerprintOf(window: WindowConfig): string {
  return definitionFingerprint(window, false);
}

export interface ClickHouseEndpoint {
  url: string;
  username: string;
  password: string;
  database: string;
  /** The servers' cluster (remote_servers) the tables are made on; absent on one server. */
  cluster?: string;
}

export class SinkUnavailableError extends SluiceError {
  constructor(what: string, cause: unknown) {
    super(what, { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true, cause });
  }
}

/** ClickHouse refused the rows themselves (a parse or type error): they are dead-lettered, not retried. */
export class SinkRejectedError extends SluiceError {
  constructor(cause: unknown) {
    super(clickHouseErrorText(cause), { code: 'SLUICE_RECORD_INVALID', retriable: false, cause });
  }
}

export function createClickHouseClient(endpoint: ClickHouseEndpoint): ClickHouseClient {
  return createClient({
    url: endpoint.url,
    username: endpoint.username,
    password: endpoint.password,
    request_timeout: 30_000,
    // Failures reach our logs with context; the client's own lines would repeat them.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

export interface MigrationReport {
  /** The server and what its new tables get (describeCapabilities). */
  server: string;
  createdTables: string[];
  /** Tables of Sluice 0.1 named after their window, renamed to hold the rows under the view. */
  movedTables: string[];
  createdViews: string[];
  addedColumns: string[];
  appliedFiles: string[];
}

export class ClickHouseSchema {
  private readonly ready = new Set<string>();
  /** Relations whose rows table has DateTime64 window bounds (made on a server that offers them). */
  private readonly millisecondBounds = new Set<string>();
  private serverFound?: Promise<ClickHouseCapabilities>;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly endpoint: ClickHouseEndpoint,
    /** The pipeline's `source.keyedBy`: which windows are re-keyed is part of what their rows mean. */
    private readonly keyedBy: readonly string[] | undefined,
  ) {}

  /** Fails fast, saying where it looked and what to fix, when the server does not answer or refuses us. */
  async check(): Promise<void> {
    const ping = await this.client.ping();
    if (!ping.success) {
      throw new SinkUnavailableError(
        `could not reach ClickHouse at ${this.endpoint.url}: ${messageOf(ping.error)}. ` +
          'Start the local stack with `sluice stack up`, or point CLICKHOUSE_URL (or sinks.clickhouse.url) at a running server.',
        ping.error,
      );
    }
    // /ping answers without credentials; a first query checks them and says which ones to fix.
    try {
      await this.query('SELECT 1 AS ok');
    } catch (error) {
      if (!isClickHouseAuthentication(error)) throw error;
      throw new SluiceError(
        `ClickHouse at ${this.endpoint.url} refused user "${this.endpoint.username}": ${messageOf(error)}. ` +
          'Check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD (or sinks.clickhouse.username and password).',
        { code: 'SLUICE_SINK_UNAVAILABLE', retriable: false, cause: error },
      );
    }
    await this.checkCluster();
  }

  /** A configured cluster must be one the server knows (its remote_servers). */
  private async checkCluster(): Promise<void> {
    const { cluster, url } = this.endpoint;
    if (cluster === undefined) return;
    const known = (await this.query<{ cluster: string }>('SELECT DISTINCT cluster FROM system.clusters')).map(
      (r) => r.cluster,
    );
    if (known.includes(cluster)) return;
    throw new SluiceError(
      `sinks.clickhouse.cluster: expected a cluster of the server's remote_servers, found ${JSON.stringify(cluster)}; ` +
        `ClickHouse at ${url} knows ${known.length > 0 ? known.join(', ') : 'no cluster'}. ` +
        'Name one of those, or leave the field out to write to this server alone.',
      { code: 'SLUICE_CONFIG_INVALID', retriable: false },
    );
  }

  /** What the server offers beyond the baseline: asked once (`SELECT version()`), then remembered. */
  server(): Promise<ClickHouseCapabilities> {
    this.serverFound ??= this.query<{ v: string }>('SELECT version() AS v').then(
      ([found]) => capabilitiesOf(found?.v ?? ''),
      (error: unknown) => {
        this.serverFound = undefined;
        throw error;
      },
    );
    return this.serverFound;
  }

  /** The rows as the relation's rows table stores them (after ensureTable has seen it). */
  storedRows(relation: string, rows: ResultRow[]): ResultRow[] {
    return this.millisecondBounds.has(relation) ? rows.map(withMillisecondBounds) : rows;
  }

  /** The database, the window tables (by their default names) and the migrations folder. */
  async migrate(windows: readonly WindowConfig[], migrationsDir?: string): Promise<MigrationReport> {
    const report: MigrationReport = {
      server: describeCapabilities(await this.server()),
      createdTables: [],
      movedTables: [],
      createdViews: [],
      addedColumns: [],
      appliedFiles: [],
    };
    // Asked first: on a cluster the statement would wait for every server, one that is down included.
    const [database] = await this.query<{ n: string }>(
      `SELECT count() AS n FROM system.databases WHERE name = ${stringLiteral(this.endpoint.database)}`,
    );
    if (Number(database?.n ?? 0) === 0)
      await this.ddl(
        `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.endpoint.database)}${onCluster(this.endpoint.cluster)}`,
      );
    for (const window of windows) await this.ensureTable(window, window.name, report);
    if (migrationsDir) report.appliedFiles = await this.applyFolder(migrationsDir);
    return report;
  }

  /**
   * Makes the window's relation ready, once per process: the rows table (`<relation>_rows`) created
   * when missing or brought up to date, and the view named `relation` over it (windowViewDdl). A table
   * of Sluice 0.1 under the relation's own name holds the rows: it becomes the rows table (a rename).
   */
  async ensureTable(window: WindowConfig, relation: string, report?: MigrationReport): Promise<void> {
    if (this.ready.has(relation)) return;
    const { database, cluster } = this.endpoint;
    const table = rowsTableOf(relation);
    // On a cluster the rows are stored in `<table>_local` on every server, under a Distributed `<table>`.
    const stored = cluster === undefined ? table : localTableOf(table);
    const under = await this.engineOf(relation);
    const rowsEngine = await this.engineOf(table);
    this.checkPlacement(window, table, rowsEngine);
    let storedExists = (await this.engineOf(stored)) !== undefined;
    if (under !== undefined && under !== 'View') {
      if (rowsEngine !== undefined || cluster !== undefined)
        throw new SluiceError(
          `ClickHouse has ${database}.${relation} (a ${under} table)` +
            (rowsEngine !== undefined ? ` and ${database}.${table}` : '') +
            `: Sluice reads window ${window.name} from a view named ${relation} over ${table}. ` +
            (cluster === undefined
              ? `Drop or rename ${database}.${relation}.`
              : `On cluster ${cluster} the rows go to ${database}.${stored} on every server: copy the rows of ` +
                `${database}.${relation} into ${database}.${table} once it exists, then drop ${database}.${relation}.`),
          { code: 'SLUICE_CONFIG_INVALID', retriable: false },
        );
      // Rows of Sluice 0.1 (a table named after the window): kept, under the rows table's name.
      await this.client.command({
        query: `RENAME TABLE ${quoteIdentifier(database)}.${quoteIdentifier(relation)} TO ${quoteIdentifier(database)}.${quoteIdentifier(table)}`,
      });
      report?.movedTables.push(`${database}.${relation} → ${database}.${table}`);
      storedExists = true;
    }
    const server = await this.server();
    const created = !storedExists;
    if (created) {
      await this.ddl(windowTableDdl(database, window, table, server, cluster));
      report?.createdTables.push(`${database}.${stored}`);
    }
    // Literals rather than query parameters: ClickHouse 18.16 has no {name:Type} parameters.
    const existing = await this.columnTypesOf(stored);
    const missing = missingColumnDdl(database, window, new Set(existing.keys()), stored, server, cluster);
    for (const ddl of missing) await this.ddl(ddl);
    report?.addedColumns.push(...missing.map((ddl) => ddl.replace(/^ALTER TABLE /, '')));
    if (cluster !== undefined)
      await this.ensureDistributed(table, windowShardingKey(window), cluster, report);
    // A table keeps the types it was made with (window_start is never added): rows are written to fit.
    if (existing.get('window_start')?.startsWith('DateTime64')) this.millisecondBounds.add(relation);
    else this.millisecondBounds.delete(relation);
    const [found] = await this.query<{ sorting_key: string }>(
      `SELECT sorting_key FROM system.tables WHERE database = ${stringLiteral(database)} AND name = ${stringLiteral(stored)}`,
    );
    const problem = found ? sortingKeyProblem(window, found.sorting_key) : undefined;
    if (problem)
      throw new SluiceError(
        `ClickHouse table ${database}.${stored} does not fit window ${window.name}: ${problem}. ` +
          'It was made for another definition (groupBy or window type changed): give the window a new name, or drop the table to rebuild it.',
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
    // Refused before the view is made: a table whose rows mean something else is not shown as the window.
    await this.checkDefinition(window, relation, created);
    await this.ensureView(window, relation, report);
    this.ready.add(relation);
  }

  /**
   * The rows table is what this sink writes through: a Distributed table on a cluster, a table of its
   * own on one server. Tables made for the other placement are refused rather than written wrong (an
   * insert into a Distributed table without the cluster's settings is queued, not acknowledged).
   */
  private checkPlacement(window: WindowConfig, table: string, engine: string | undefined): void {
    const { database, cluster } = this.endpoint;
    if (engine === undefined) return;
    if (cluster === undefined && engine === 'Distributed')
      throw new SluiceError(
        `ClickHouse table ${database}.${table} (window ${window.name}) is a Distributed table, made for a ` +
          'cluster: set sinks.clickhouse.cluster to the cluster it spans.',
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
    if (cluster !== undefined && engine !== 'Distributed')
      throw new SluiceError(
        `ClickHouse table ${database}.${table} (window ${window.name}) is a ${engine} table on this server ` +
          `alone; with sinks.clickhouse.cluster ${cluster} the rows go through a Distributed ${table} to ` +
          `${localTableOf(table)} on every server. Rename ${database}.${table} away (its rows can be copied ` +
          'in once the new tables exist), or leave sinks.clickhouse.cluster out.',
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
  }

  /**
   * The Distributed table over `<table>_local`, made again when its columns are not the storage table's
   * (a column was added: 18.16 alters no Distributed table ON CLUSTER, and it holds no rows of its own
   * with synchronous inserts).
   */
  private async ensureDistributed(
    table: string,
    shardingKey: readonly string[],
    cluster: string,
    report?: MigrationReport,
  ): Promise<void> {
    const { database } = this.endpoint;
    const wanted = [...(await this.columnTypesOf(localTableOf(table))).keys()].sort();
    const shown = [...(await this.columnTypesOf(table)).keys()].sort();
    if (shown.length > 0 && shown.join(',') === wanted.join(',')) return;
    if (shown.length > 0)
      await this.ddl(
        `DROP TABLE IF EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(table)}${onCluster(cluster)}`,
      );
    await this.ddl(distributedTableDdl(database, table, cluster, shardingKey));
    report?.createdTables.push(`${database}.${table} (Distributed)`);
  }

  /**
   * A bookkeeping table of Sluice's (the definitions ledger, the applied migrations): on one server a
   * table; on a cluster a replicated one on every server under a Distributed table of the name, sharded
   * by its key, so every server reads the same record.
   */
  private async ensureBookkeepingTable(
    table: string,
    columns: string,
    engine: string,
    engineArgs: readonly string[],
    key: string,
  ): Promise<void> {
    const { database, cluster } = this.endpoint;
    const stored = cluster === undefined ? table : localTableOf(table);
    if ((await this.engineOf(stored)) === undefined || cluster === undefined)
      await this.ddl(
        `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(stored)}${onCluster(cluster)} ` +
          `(${columns}) ENGINE = ${storageEngine(engine, engineArgs, { database, cluster }, stored)} ORDER BY ${key}`,
      );
    if (cluster !== undefined && (await this.engineOf(table)) === undefined)
      await this.ddl(distributedTableDdl(database, table, cluster, [key]));
  }

  /** DDL, ON CLUSTER where there is one: a bounded wait for every server (clickhouse-cluster.ts). */
  private async ddl(query: string): Promise<void> {
    await this.client.command({ query, clickhouse_settings: clusterDdlSettings(this.endpoint.cluster) });
  }

  /**
   * Inserts result rows into the relation's rows table (after ensureTable has seen it), as it stores
   * them, with the settings every insert of rows takes (the token identifies a batch across retries).
   */
  async insertRows(relation: string, rows: ResultRow[], token?: string, queryId?: string): Promise<void> {
    const server = await this.server();
    await this.client.insert({
      table: `${quoteIdentifier(this.endpoint.database)}.${quoteIdentifier(rowsTableOf(relation))}`,
      values: this.storedRows(relation, rows),
      format: 'JSONEachRow',
      clickhouse_settings: insertSettings(this.endpoint.cluster, server, token),
      ...(queryId === undefined ? {} : { query_id: queryId }),
    });
  }

  /** The view over the rows table, made again when its columns are not the window's (a column was added). */
  private async ensureView(window: WindowConfig, relation: string, report?: MigrationReport): Promise<void> {
    const { database } = this.endpoint;
    // Compared as sets: ClickHouse 18.16's system.columns has no position to order by.
    const wanted = viewColumns(window).sort();
    const shown = [...(await this.columnTypesOf(relation)).keys()].sort();
    if (shown.length > 0 && shown.join(',') === wanted.join(',')) return;
    if (shown.length > 0)
      await this.ddl(
        `DROP TABLE IF EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(relation)}${onCluster(this.endpoint.cluster)}`,
      );
    await this.ddl(windowViewDdl(database, window, relation, this.endpoint.cluster));
    report?.createdViews.push(`${database}.${relation}`);
  }

  /** The table's columns, name to type. */
  private async columnTypesOf(table: string): Promise<Map<string, string>> {
    const columns = await this.query<{ name: string; type: string }>(
      `SELECT name, type FROM system.columns WHERE database = ${stringLiteral(this.endpoint.database)} ` +
        `AND table = ${stringLiteral(table)}`,
    );
    return new Map(columns.map((c) => [c.name, c.type]));
  }

  /** The engine of a table or view, or undefined when there is none of that name. */
  private async engineOf(table: string): Promise<string | undefined> {
    const [found] = await this.query<{ engine: string }>(
      `SELECT engine FROM system.tables WHERE database = ${stringLiteral(this.endpoint.database)} AND name = ${stringLiteral(table)}`,
    );
    return found?.engine;
  }

  /**
   * The definition a table's rows were written under is kept in `sluice_windows` (one row per table):
   * recorded when the table is made (or first seen, for tables of an older Sluice), and compared at
   * every start. A window that changed meaning under its name would mix two meanings in one table.
   */
  private async checkDefinition(window: WindowConfig, table: string, created: boolean): Promise<void> {
    const { database } = this.endpoint;
    const ledger = `${quoteIdentifier(database)}.sluice_windows`;
    await this.ensureBookkeepingTable(
      'sluice_windows',
      'table_name String, window_name String, definition String, recorded_at DateTime',
      'ReplacingMergeTree',
      ['recorded_at'],
      'table_name',
    );
    const now = fingerprintOf(window, this.keyedBy);
    let [recorded]: ({ window_name: string; definition: string } | undefined)[] = created
      ? []
      : await this.query<{ window_name: string; definition: string }>(
          `SELECT window_name, definition FROM ${ledger} FINAL WHERE table_name = ${stringLiteral(table)}`,
        );
    const inLedger = recorded !== undefined;
    // A table older than the ledger, with rows: they were computed per source partition.
    if (!created && !recorded && (await this.holdsRows(rowsTableOf(table))))
      recorded = { window_name: window.name, definition: legacyFingerprintOf(window) };
    if (recorded && recorded.definition !== now)
      throw new SluiceError(
        `ClickHouse table ${database}.${table} holds rows of window ${recorded.window_name} as it was defined ` +
          `before: ${differencesOf(recorded.definition, now).join('; ')}. New rows would mean something else ` +
          'than the rows already there. Give the changed window a new name (a new table, computed from the ' +
          "group's committed position on), put the old definition back, or reprocess: stop every member and " +
          'run `sluice reset --delete-results` (it deletes the rows, rewinds the group and drops the state).',
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
    if (!inLedger) await this.recordDefinition(table, window);
  }

  private async holdsRows(table: string): Promise<boolean> {
    const [found] = await this.query<{ n: string }>(
      `SELECT count() AS n FROM ${quoteIdentifier(this.endpoint.database)}.${quoteIdentifier(table)}`,
    );
    return Number(found?.n ?? 0) > 0;
  }

  /** Records the window's definition as the one `table`'s rows are written under. */
  async recordDefinition(table: string, window: WindowConfig): Promise<void> {
    await this.client.insert({
      table: `${this.endpoint.database}.sluice_windows`,
      values: [
        {
          table_name: table,
          window_name: window.name,
          definition: fingerprintOf(window, this.keyedBy),
          recorded_at: new Date().toISOString().slice(0, 19).replace('T', ' '),
        },
      ],
      format: 'JSONEachRow',
      clickhouse_settings: insertSettings(this.endpoint.cluster, await this.server(), undefined),
    });
  }

  /** Forgets that a table was checked (it was dropped under us): the next write creates it again. */
  forget(table: string): void {
    this.ready.delete(table);
  }

  /**
   * Applies the folder's `.sql` files in name order, each once: a file already applied is skipped, one
   * changed since it was applied is refused (write a new file instead). `{database}` in a file is the
   * sink's database; ` {on_cluster}` is ` ON CLUSTER <cluster>` when the sink has one, else nothing. Statements are separated by `;` at the end of a line.
   */
  private async applyFolder(dir: string): Promise<string[]> {
    const { database } = this.endpoint;
    const ledger = `${quoteIdentifier(database)}.sluice_migrations`;
    await this.ensureBookkeepingTable(
      'sluice_migrations',
      'name String, checksum String, applied_at DateTime',
      'MergeTree',
      [],
      'name',
    );
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
    } catch (error) {
      throw new SluiceError(
        `sinks.clickhouse.migrations: expected a readable folder of .sql files, found ${JSON.stringify(dir)} (${messageOf(error)})`,
        { code: 'SLUICE_CONFIG_INVALID', retriable: false, cause: error },
      );
    }
    const applied = new Map(
      (await this.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${ledger}`)).map(
        (r) => [r.name, r.checksum],
      ),
    );
    const done: string[] = [];
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      const previous = applied.get(file);
      if (previous === checksum) continue;
      if (previous !== undefined)
        throw new SluiceError(
          `migration ${file} changed after it was applied to ${database} (checksum ${previous.slice(0, 12)} then, ${checksum.slice(0, 12)} now): add a new file instead of editing an applied one`,
          { code: 'SLUICE_CONFIG_INVALID', retriable: false },
        );
      const placed = text
        .replaceAll('{database}', database)
        .replaceAll(' {on_cluster}', onCluster(this.endpoint.cluster));
      for (const statement of splitStatements(placed)) {
        try {
          await this.client.command({ query: statement });
        } catch (error) {
          throw new SluiceError(`migration ${file} failed: ${messageOf(error)}\n${statement}`, {
            code: 'SLUICE_SINK_UNAVAILABLE',
            retriable: false,
            cause: error,
          });
        }
      }
      await this.client.insert({
        table: `${database}.sluice_migrations`,
        values: [
          { name: file, checksum, applied_at: new Date().toISOString().slice(0, 19).replace('T', ' ') },
        ],
        format: 'JSONEachRow',
        clickhouse_settings: insertSettings(this.endpoint.cluster, await this.server(), undefined),
      });
      done.push(file);
    }
    return done;
  }

  private async query<T>(query: string): Promise<T[]> {
    const result = await this.client.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }
}

/** SQL statements of a migration file: split at `;` ending a line, comments-only parts dropped. */
export function splitStatements(text: string): string[] {
  return text
    .split(/;\s*$/m)
    .map((part) => part.trim())
    .filter((part) => part.replace(/--.*$/gm, '').trim().length > 0);
}
