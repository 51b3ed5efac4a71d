// A single Apache ZooKeeper server from its Maven Central jars, run with the machine's Java: what a
// replicated ClickHouse cluster coordinates through (replication and ON CLUSTER DDL).
import { mkdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { cacheDir } from './stack-paths.js';
import { resolveMavenJars } from './maven-jars.js';
import { startDetached, waitUntilReady } from './processes.js';

export const ZOOKEEPER_VERSION = '3.9.5';

export interface ZooKeeperState {
  pid: number;
  port: number;
  version: string;
  dataDir: string;
  logFile: string;
}

function pom(): string {
  const dep = (group: string, artifact: string, version: string) =>
    `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.stack</groupId>
  <artifactId>zookeeper</artifactId>
  <version>${ZOOKEEPER_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    ${dep('org.apache.zookeeper', 'zookeeper', ZOOKEEPER_VERSION)}
    ${dep('org.slf4j', 'slf4j-simple', '2.0.13')}
    ${dep('io.dropwizard.metrics', 'metrics-core', '4.1.12.1')}
    ${dep('org.xerial.snappy', 'snappy-java', '1.1.10.7')}
  </dependencies>
</project>
`;
}

/** ZooKeeper's `ruok` four-letter command: `imok` once it serves. */
export function zooKeeperReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('ruok'));
    let answer = '';
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer === 'imok'));
    socket.on('error', () => resolve(false));
  });
}

export async function startZooKeeper(options: {
  dir: string;
  port: number;
  log?: (line: string) => void;
}): Promise<ZooKeeperState> {
  const libs = await resolveMavenJars(
    {
      home: join(cacheDir(), `zookeeper-${ZOOKEEPER_VERSION}`),
      pom: pom(),
      what: `Apache ZooKeeper ${ZOOKEEPER_VERSION} (org.apache.zookeeper:zookeeper:${ZOOKEEPER_VERSION})`,
      expect: 'zookeeper-',
    },
    options.log,
  );
  const dataDir = join(options.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const config = join(options.dir, 'zoo.cfg');
  await writeFile(
    config,
    `# Written by sluice stack: one ZooKeeper for a local replicated ClickHouse.
tickTime=2000
dataDir=${dataDir}
clientPort=${options.port}
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
`,
  );
  const logFile = join(options.dir, 'zookeeper.log');
  const pid = startDetached(
    'java',
    ['-Xms64m', '-Xmx256m', '-cp', `${libs}/*`, 'org.apache.zookeeper.server.ZooKeeperServerMain', config],
    logFile,
    options.dir,
  );
  await waitUntilReady(`ZooKeeper ${ZOOKEEPER_VERSION}`, pid, logFile, 60_000, () =>
    zooKeeperReady(options.port),
  );
  return { pid, port: options.port, version: ZOOKEEPER_VERSION, dataDir, logFile };
}
