// A ClickHouse server from Debian's `clickhouse-server` package (installed with apt when missing and
// running as root), started with its own config, data folder and ports instead of the system service.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { startDetached, waitUntilReady } from './processes.js';
import { StackError } from './stack-error.js';
import type { ClickHouseState } from './stack-state.js';

const run = promisify(execFile);
const CREDENTIALED_USER = 'sluice';

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

async function installClickHouse(log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new StackError(
      'ClickHouse is not installed. Install it with `sudo apt-get install clickhouse-server` ' +
        '(Debian/Ubuntu), or point CLICKHOUSE_URL at a running server.',
    );
  }
  log('installing clickhouse-server with apt-get (first use only)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update', '-qq'], { env, timeout: 10 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    await run('apt-get', ['install', '-y', '-qq', 'clickhouse-server'], {
      env,
      timeout: 20 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    throw new StackError(
      `apt-get could not install clickhouse-server:\n${stderr.trim().split('\n').slice(-10).join('\n')}`,
      error,
    );
  }
}

/**
 * One replica of a one-shard cluster coordinated by ZooKeeper: the cluster in `remote_servers`, this
 * server's names in `macros` (`{cluster}`, `{shard}`, `{replica}` for Replicated table paths), and the
 * queue ON CLUSTER statements go through.
 */
export interface ClickHouseReplication {
  cluster: string;
  zookeeperPort: number;
  /** Every replica's TCP port, this one's among them, in replica order. */
  replicaTcpPorts: readonly number[];
  /** This server's replica name (`r1`, `r2`, …). */
  replica: string;
  /** The port the replicas fetch each other's parts on. */
  interserverPort: number;
}

function replicationConfig(replication: ClickHouseReplication): string {
  const replicas = replication.replicaTcpPorts
    .map((port) => `<replica><host>127.0.0.1</host><port>${port}</port></replica>`)
    .join('');
  return `
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>${replication.interserverPort}</interserver_http_port>
  <zookeeper><node><host>127.0.0.1</host><port>${replication.zookeeperPort}</port></node></zookeeper>
  <remote_servers>
    <${replication.cluster}><shard><internal_replication>true</internal_replication>${replicas}</shard></${replication.cluster}>
  </remote_servers>
  <macros><cluster>${replication.cluster}</cluster><shard>01</shard><replica>${replication.replica}</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`;
}

function serverConfig(
  dir: string,
  dataDir: string,
  httpPort: number,
  tcpPort: number,
  replication?: ClickHouseReplication,
): string {
  return `<?xml version="1.0"?>
<!-- Written by sluice stack: a private ClickHouse for local development and tests. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${join(dir, 'clickhouse-server.log')}</log>
    <errorlog>${join(dir, 'clickhouse-server.err.log')}</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dataDir}/</path>
  <tmp_path>${dataDir}/tmp/</tmp_path>
  <user_files_path>${dataDir}/user_files/</user_files_path>
  <format_schema_path>${dataDir}/format_schemas/</format_schema_path>
  <users_config>${join(dir, 'users.xml')}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>${replication ? replicationConfig(replication) : ''}
</yandex>
`;
}

/**
 * \`default\` without a password, as the tests and the demo use it, and \`sluice\` with one, for trying
 * CLICKHOUSE_USER / CLICKHOUSE_PASSWORD the way a production server asks for them.
 */
const users = (password: string) => `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <${CREDENTIALED_USER}>
      <password>${password}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${CREDENTIALED_USER}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

async function serverVersion(url: string): Promise<string> {
  const response = await fetch(`${url}/?query=${encodeURIComponent('SELECT version()')}`);
  if (!response.ok) throw new StackError(`HTTP ${response.status}`);
  return (await response.text()).trim();
}

export interface ClickHouseStartOptions {
  dir: string;
  httpPort: number;
  tcpPort: number;
  /** A replica of a cluster, when the stack runs several. */
  replication?: ClickHouseReplication;
  log?: (line: string) => void;
}

export async function startClickHouse(options: ClickHouseStartOptions): Promise<ClickHouseState> {
  const log = options.log ?? (() => {});
  let binary = findBinary('clickhouse-server');
  if (!binary) {
    await installClickHouse(log);
    binary = findBinary('clickhouse-server');
    if (!binary)
      throw new StackError('clickhouse-server was installed but is not on PATH, /usr/sbin or /usr/bin');
  }
  const dataDir = join(options.dir, 'data');
  const configFile = join(options.dir, 'config.xml');
  const logFile = join(options.dir, 'clickhouse-stdout.log');
  await mkdir(join(dataDir, 'tmp'), { recursive: true });
  await writeFile(
    configFile,
    serverConfig(options.dir, dataDir, options.httpPort, options.tcpPort, options.replication),
  );
  const password = randomBytes(12).toString('hex');
  await writeFile(join(options.dir, 'users.xml'), users(password));

  const pid = startDetached(binary, [`--config-file=${configFile}`], logFile, options.dir);
  const url = `http://127.0.0.1:${options.httpPort}`;
  // Start-up failures land in the server's error log, not on stdout.
  const errorLog = join(options.dir, 'clickhouse-server.err.log');
  await waitUntilReady('ClickHouse', pid, errorLog, 60_000, async () => {
    const response = await fetch(`${url}/ping`);
    return response.ok;
  });
  return {
    pid,
    httpPort: options.httpPort,
    tcpPort: options.tcpPort,
    url,
    version: await serverVersion(url),
    dataDir,
    logFile: join(options.dir, 'clickhouse-server.log'),
    credentials: { username: CREDENTIALED_USER, password },
    ...(options.replication
      ? { cluster: options.replication.cluster, replica: options.replication.replica }
      : {}),
  };
}
