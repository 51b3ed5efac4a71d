// The DDL and settings of a pipeline's tables on a ClickHouse cluster, against those on one server:
// replicated storage under Distributed tables sharded by the row identity, ON CLUSTER everywhere,
// synchronous inserts without block deduplication where no insert token keeps replays apart. No server.
import { describe, expect, it } from 'vitest';
import type { WindowConfig } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { BASELINE, capabilitiesOf } from '../../../src/sinks/clickhouse-capabilities.js';
import {
  distributedTableDdl,
  insertSettings,
  localTableOf,
  onCluster,
  replicasOf,
  storageEngine,
} from '../../../src/sinks/clickhouse-cluster.js';
import {
  missingColumnDdl,
  relationOfRowsTable,
  windowShardingKey,
  windowSortingKey,
  windowTableDdl,
  windowViewDdl,
} from '../../../src/sinks/clickhouse-tables.js';

const [sessions] = validatePipeline({
  name: 'p',
  source: { brokers: ['localhost:9092'], topic: 't', groupId: 'g' },
  windows: [{ name: 'sessions', type: 'session', gap: '30s', groupBy: ['userId', 'country'] }],
}).windows as [WindowConfig];

describe('ClickHouse tables on a cluster', () => {
  it('stores rows in a replicated <table>_local made ON CLUSTER, and one server keeps its plain table', () => {
    const single = windowTableDdl('db', sessions, 'sessions_rows', capabilitiesOf('26.7.2.1'));
    expect(single).toContain('CREATE TABLE IF NOT EXISTS `db`.`sessions_rows` (');
    expect(single).toContain('ENGINE = ReplacingMergeTree(version)');
    expect(single).toContain('non_replicated_deduplication_window');
    const clustered = windowTableDdl('db', sessions, 'sessions_rows', capabilitiesOf('26.7.2.1'), 'main');
    expect(clustered).toContain('CREATE TABLE IF NOT EXISTS `db`.`sessions_rows_local` ON CLUSTER `main` (');
    expect(clustered).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/sessions_rows_local', '{replica}', version)",
    );
    // A replicated table remembers its inserts by itself.
    expect(clustered).not.toContain('non_replicated_deduplication_window');
    // Same columns, same identity.
    const body = (ddl: string) => ddl.slice(ddl.indexOf('(\n'), ddl.indexOf(') ENGINE'));
    expect(body(clustered)).toEqual(body(single));
    expect(clustered.slice(clustered.indexOf('ORDER BY'))).toEqual(
      single.slice(single.indexOf('ORDER BY'), single.indexOf('\nSETTINGS')),
    );
  });

  it('shards by the row identity, so every version of a row is on one shard', () => {
    const key = windowShardingKey(sessions);
    expect(key).toEqual(['pipeline', 'window_start_ms', 'userId', 'country', 'source_partition']);
    // Each part of the sorting key (the identity) but the second-resolution bound, which window_start_ms holds.
    expect(
      windowSortingKey(sessions)
        .filter((c) => c !== 'window_start')
        .sort(),
    ).toEqual([...key].sort());
    expect(distributedTableDdl('db', 'sessions_rows', 'main', key)).toBe(
      'CREATE TABLE IF NOT EXISTS `db`.`sessions_rows` ON CLUSTER `main` AS `db`.`sessions_rows_local` ' +
        'ENGINE = Distributed(`main`, `db`, `sessions_rows_local`, ' +
        'cityHash64(`pipeline`, `window_start_ms`, `userId`, `country`, `source_partition`))',
    );
  });

  it('runs the view and added columns ON CLUSTER, and nothing of it on one server', () => {
    expect(windowViewDdl('db', sessions, 'sessions', 'main')).toMatch(
      /^CREATE VIEW IF NOT EXISTS `db`\.`sessions` ON CLUSTER `main` AS SELECT .* FROM `db`\.`sessions_rows` FINAL WHERE superseded = 0$/,
    );
    expect(windowViewDdl('db', sessions)).not.toContain('ON CLUSTER');
    const added = missingColumnDdl(
      'db',
      sessions,
      new Set(['pipeline']),
      'sessions_rows_local',
      BASELINE,
      'main',
    );
    expect(added[0]).toMatch(/^ALTER TABLE `db`\.`sessions_rows_local` ON CLUSTER `main` ADD COLUMN /);
    expect(onCluster(undefined)).toBe('');
    expect(storageEngine('MergeTree', [], { database: 'db' }, 't')).toBe('MergeTree');
    expect(storageEngine('MergeTree', [], { database: 'db', cluster: 'c' }, 't_local')).toBe(
      "ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}')",
    );
  });

  it('names storage tables and finds the relation behind each', () => {
    expect(localTableOf('views_rows')).toBe('views_rows_local');
    expect(relationOfRowsTable('views_rows_local')).toBe('views');
    expect(relationOfRowsTable('views_rows')).toBe('views');
    expect(relationOfRowsTable('views__hourly_local')).toBeUndefined();
  });

  it('inserts synchronously on a cluster, deduplicating by token only where the server takes one', () => {
    expect(insertSettings(undefined, BASELINE, 't-1')).toEqual({});
    expect(insertSettings(undefined, capabilitiesOf('26.7.2.1'), 't-1')).toEqual({
      insert_deduplication_token: 't-1',
    });
    // 18.16 on a cluster: a block equal to a withdrawn one must land again, so no block deduplication.
    expect(insertSettings('main', BASELINE, 't-1')).toEqual({
      insert_distributed_sync: 1,
      insert_deduplicate: 0,
    });
    expect(insertSettings('main', capabilitiesOf('26.7.2.1'), 't-1')).toEqual({
      insert_deduplication_token: 't-1',
      insert_distributed_sync: 1,
    });
  });

  it('reads the cluster’s servers with their shards from system.clusters', () => {
    expect(
      replicasOf([
        { host_name: 'ch-1', port: 9000, shard_num: 1 },
        { host_name: 'ch-2', port: '9000', shard_num: '2' },
      ]),
    ).toEqual([
      { address: 'ch-1:9000', shard: 1 },
      { address: 'ch-2:9000', shard: 2 },
    ]);
  });
});
