// The bench's Java peers, ready to run: their jars resolved from Maven Central into the cache on first
// use, and the Kafka Streams application (bench/kafka-streams) and the Flink job (bench/flink) compiled
// against them into the cache, keyed by a hash of the source so that an edited source is compiled again.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KAFKA_VERSION } from '../stack/kafka-release.js';
import { requireTool, resolveMavenJars } from '../stack/maven-jars.js';
import { BenchPeerError } from './bench-peer-error.js';
import { cacheDir } from '../stack/stack-paths.js';

const run = promisify(execFile);

/** A 1.11.x release: its Jackson is older than Kafka's, so pinning Kafka's (below) only upgrades Avro's. */
const AVRO_VERSION = '1.11.4';
/** Kafka 3.9.1's own Jackson; Kafka Streams and Avro must share one. */
const JACKSON_VERSION = '2.16.2';
/** The Flink release of the Kafka connector below (5.0.0-2.2 is the connector for Flink 2.2). */
export const FLINK_VERSION = '2.2.0';
const FLINK_KAFKA_CONNECTOR_VERSION = '5.0.0-2.2';

const JDK_HINT = 'install a JDK 17+ and Maven (Debian: `apt-get install openjdk-17-jdk-headless maven`)';

/** From dist/tools/bench or src/tools/bench alike, three folders up is the package root. */
const packageFile = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const STREAMS_SOURCE = packageFile('bench/kafka-streams/SluiceBenchStreams.java');
const FLINK_SOURCE = packageFile('bench/flink/SluiceBenchFlink.java');
const LOG4J_CONFIG = packageFile('bench/kafka-streams/log4j.properties');
const FLINK_LOG4J_CONFIG = packageFile('bench/flink/log4j.properties');

/** The schema every Avro record of the bench is written with; the Streams peer decodes with it. */
export const USER_EVENT_SCHEMA_FILE = packageFile('schemas/avro/user-event.avsc');

/** A Java program and how to start it: `java ...jvmOptions -cp classpath mainClass ...args`. */
export interface JavaProgram {
  mainClass: string;
  classpath: string;
  jvmOptions: string[];
}

export function javaArgs(program: JavaProgram, args: readonly string[]): string[] {
  return [...program.jvmOptions, '-cp', program.classpath, program.mainClass, ...args];
}

const jvmOptions = (log4jConfig: string) => [
  `-Dlog4j.configuration=file:${log4jConfig}`,
  // The perf tool prints its figures in the default locale: a decimal comma would break the parse.
  '-Duser.language=en',
  '-Duser.country=US',
];
const JVM_OPTIONS = jvmOptions(LOG4J_CONFIG);

/** A dependency: group, artifact, version, and the `group:artifact`s to leave out of its dependencies. */
type Dependency = [group: string, artifact: string, version: string, exclusions?: string[]];

function pom(artifact: string, dependencies: Dependency[]): string {
  const deps = dependencies.map(([g, a, v, exclusions = []]) => {
    const excluded = exclusions.map((ga) => {
      const [eg, ea] = ga.split(':');
      return `<exclusion><groupId>${eg}</groupId><artifactId>${ea}</artifactId></exclusion>`;
    });
    const inside = excluded.length > 0 ? `<exclusions>${excluded.join('')}</exclusions>` : '';
    return `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version>${inside}</dependency>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.bench</groupId>
  <artifactId>${artifact}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    ${deps.join('\n    ')}
  </dependencies>
</project>
`;
}

/** The logging binding the broker uses; log4j.properties above keeps it to warnings. */
const LOGGING: Dependency[] = [
  ['org.slf4j', 'slf4j-api', '1.7.36'],
  ['org.slf4j', 'slf4j-reload4j', '1.7.36'],
  ['ch.qos.reload4j', 'reload4j', '1.2.25'],
];

async function requireJava(): Promise<void> {
  await requireTool('java', `${JDK_HINT} to run the bench's Java peers.`);
}

/** Kafka's own consumer perf tool (`kafka-consumer-perf-test.sh`), from kafka-tools. */
export async function consumerPerfToolProgram(log: (line: string) => void): Promise<JavaProgram> {
  await requireJava();
  const libs = await resolveMavenJars(
    {
      home: join(cacheDir(), `kafka-tools-${KAFKA_VERSION}`),
      pom: pom('kafka-tools', [['org.apache.kafka', 'kafka-tools', KAFKA_VERSION], ...LOGGING]),
      what: `the Kafka ${KAFKA_VERSION} tools (org.apache.kafka:kafka-tools:${KAFKA_VERSION})`,
      expect: 'kafka-tools-',
    },
    log,
  );
  return {
    mainClass: 'org.apache.kafka.tools.ConsumerPerformance',
    classpath: join(libs, '*'),
    jvmOptions: JVM_OPTIONS,
  };
}

/** The Kafka Streams peer, compiled on first use and again whenever its source changes. */
export async function kafkaStreamsProgram(log: (line: string) => void): Promise<JavaProgram> {
  await requireJava();
  const home = join(cacheDir(), `kafka-streams-${KAFKA_VERSION}-avro-${AVRO_VERSION}`);
  const libs = await resolveMavenJars(
    {
      home,
      pom: pom('kafka-streams-peer', [
        ['org.apache.kafka', 'kafka-streams', KAFKA_VERSION],
        // Before Avro, so that Maven takes these versions over the ones Avro asks for.
        ['com.fasterxml.jackson.core', 'jackson-databind', JACKSON_VERSION],
        ['com.fasterxml.jackson.core', 'jackson-core', JACKSON_VERSION],
        ['org.apache.avro', 'avro', AVRO_VERSION],
        ...LOGGING,
      ]),
      what: `Kafka Streams ${KAFKA_VERSION} and Avro ${AVRO_VERSION} (org.apache.kafka:kafka-streams, org.apache.avro:avro)`,
      expect: 'kafka-streams-',
    },
    log,
  );
  const classes = await compiled(STREAMS_SOURCE, home, libs, log);
  return {
    mainClass: 'SluiceBenchStreams',
    classpath: [classes, join(libs, '*')].join(delimiter),
    jvmOptions: JVM_OPTIONS,
  };
}

/**
 * The Flink peer: the job (bench/flink/SluiceBenchFlink.java) with Flink's streaming runtime, its client
 * (the mini-cluster) and its Kafka connector, compiled on first use and again whenever its source changes.
 */
export async function flinkProgram(log: (line: string) => void): Promise<JavaProgram> {
  await requireJava();
  const home = join(
    cacheDir(),
    `flink-${FLINK_VERSION}-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}-avro-${AVRO_VERSION}`,
  );
  const libs = await resolveMavenJars(
    {
      home,
      pom: pom('flink-peer', [
        // Flink's runtime asks for org.lz4:lz4-java, the Kafka client for its successor
        // at.yawk.lz4:lz4-java: the same classes twice on one class path, so only the newer stays.
        ['org.apache.flink', 'flink-streaming-java', FLINK_VERSION, ['org.lz4:lz4-java']],
        ['org.apache.flink', 'flink-clients', FLINK_VERSION, ['org.lz4:lz4-java']],
        ['org.apache.flink', 'flink-connector-base', FLINK_VERSION],
        ['org.apache.flink', 'flink-connector-kafka', FLINK_KAFKA_CONNECTOR_VERSION],
        ['org.apache.avro', 'avro', AVRO_VERSION],
        ...LOGGING,
      ]),
      what: `Apache Flink ${FLINK_VERSION} with its Kafka connector ${FLINK_KAFKA_CONNECTOR_VERSION} and Avro ${AVRO_VERSION} (org.apache.flink:flink-streaming-java, flink-clients, flink-connector-kafka)`,
      expect: 'flink-connector-kafka-',
    },
    log,
  );
  const classes = await compiled(FLINK_SOURCE, home, libs, log);
  return {
    mainClass: 'SluiceBenchFlink',
    classpath: [classes, join(libs, '*')].join(delimiter),
    jvmOptions: jvmOptions(FLINK_LOG4J_CONFIG),
  };
}

/** The classes folder of `source`, compiled with javac against `libs` unless this source's is there. */
async function compiled(source: string, home: string, libs: string, log: (line: string) => void) {
  const text = await readFile(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const classes = join(home, `classes-${hash}`);
  if (existsSync(classes)) return classes;

  await requireTool('javac', `${JDK_HINT} to compile ${source}.`);
  log(`compiling ${source} into ${classes}`);
  // Into a scratch folder first and renamed when whole: a killed compile leaves no half-built classes.
  const scratch = `${classes}.partial-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    await run('javac', ['--release', '17', '-d', scratch, '-cp', join(libs, '*'), source], {
      timeout: 5 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    await rename(scratch, classes);
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    if (existsSync(classes)) return classes; // another process compiled the same source meanwhile
    const said = [(error as { stdout?: string }).stdout, (error as { stderr?: string }).stderr]
      .join('\n')
      .trim();
    throw new BenchPeerError(`javac could not compile ${source}:\n${said}`, error);
  }
  return classes;
}
