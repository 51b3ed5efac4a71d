// The Apache Kafka broker as jars from Maven Central: resolved once with `mvn` (the broker, its runtime
// dependencies and the reload4j logging binding the release tarball ships) into a cache folder, then reused.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StackError } from './stack-error.js';
import { cacheDir } from './stack-paths.js';

const run = promisify(execFile);

/** Pinned: a 3.9.x release, the last line with kafkajs' transaction protocol and KRaft both solid. */
export const KAFKA_VERSION = '3.9.1';
const SCALA_VERSION = '2.13';

function brokerPom(version: string): string {
  const dep = (group: string, artifact: string, v: string) =>
    `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.stack</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    ${dep('org.apache.kafka', `kafka_${SCALA_VERSION}`, version)}
    ${dep('org.slf4j', 'slf4j-reload4j', '1.7.36')}
    ${dep('ch.qos.reload4j', 'reload4j', '1.2.25')}
  </dependencies>
</project>
`;
}

async function requireTool(command: string, installHint: string): Promise<void> {
  try {
    await run(command, ['-version'], { timeout: 60_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StackError(`${command} was not found on PATH; ${installHint}`, error);
    }
  }
}

/** The folder of broker jars for `version`, resolving them with Maven on first use. */
export async function resolveKafkaJars(
  version = KAFKA_VERSION,
  log: (line: string) => void = () => {},
): Promise<string> {
  const home = join(cacheDir(), `kafka-${version}`);
  const libs = join(home, 'libs');
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;

  await requireTool(
    'java',
    'install a Java 17+ runtime (Debian: `apt-get install openjdk-17-jre-headless`).',
  );
  await requireTool(
    'mvn',
    'install Apache Maven (Debian: `apt-get install maven`) so the Kafka broker jars can be fetched.',
  );
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'pom.xml'), brokerPom(version));
  log(
    `resolving org.apache.kafka:kafka_${SCALA_VERSION}:${version} with Maven into ${libs} (first use only)`,
  );
  try {
    await run(
      'mvn',
      ['-B', '-q', 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'],
      { cwd: home, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    const output = [(error as { stdout?: string }).stdout, (error as { stderr?: string }).stderr].join('\n');
    const tail = output.trim().split('\n').slice(-15).join('\n');
    throw new StackError(
      `Maven could not fetch the Kafka ${version} broker jars (org.apache.kafka:kafka_${SCALA_VERSION}). ` +
        `Check that Maven Central is reachable (mvn settings, proxy). Maven said:\n${tail}`,
      error,
    );
  }
  const jars = (await readdir(libs)).filter((f) => f.endsWith('.jar'));
  if (!jars.some((f) => f.startsWith(`kafka_${SCALA_VERSION}-`))) {
    throw new StackError(`Maven finished but ${libs} holds no kafka_${SCALA_VERSION} jar`);
  }
  await writeFile(marker, `${jars.length} jars\n`);
  return libs;
}
