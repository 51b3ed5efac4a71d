// The Apache Kafka broker as jars from Maven Central: resolved once with `mvn` (the broker, its runtime
// dependencies and the logging binding the release tarball ships) into a cache folder per release, then
// reused.
import { join } from 'node:path';
import { brokerLoggingOf, KAFKA_VERSION } from './kafka-release.js';
import { resolveMavenJars } from './maven-jars.js';
import { cacheDir } from './stack-paths.js';

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
    ${brokerLoggingOf(version)
      .dependencies.map(([group, artifact, v]) => dep(group, artifact, v))
      .join('\n    ')}
  </dependencies>
</project>
`;
}

/** The folder of broker jars for `version`, resolving them with Maven on first use. */
export function resolveKafkaJars(
  version = KAFKA_VERSION,
  log: (line: string) => void = () => {},
): Promise<string> {
  return resolveMavenJars(
    {
      home: join(cacheDir(), `kafka-${version}`),
      pom: brokerPom(version),
      what: `the Kafka ${version} broker jars (org.apache.kafka:kafka_${SCALA_VERSION}:${version})`,
      expect: `kafka_${SCALA_VERSION}-`,
    },
    log,
  );
}
