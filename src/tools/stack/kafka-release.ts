// What differs between the Apache Kafka release lines the local stack runs. 3.9 logs through reload4j
// (log4j 1 properties); 4.x logs through log4j 2 and, on a single node, needs its share coordinator's
// state topic kept to one replica. Which release runs: `stack up --kafka-version`, else
// SLUICE_KAFKA_VERSION, else KAFKA_VERSION.
import { StackError } from './stack-error.js';

/** The default: the release the whole suite was proven on. */
export const KAFKA_VERSION = '4.4.0';
/** The release lines the stack knows how to run, oldest first. */
export const KAFKA_LINES = ['3.9', '4.0', '4.1', '4.2', '4.3', '4.4'] as const;

/** The release chosen by the environment, or the default. Checked: a typo fails before Maven runs. */
export function selectedKafkaVersion(env: NodeJS.ProcessEnv = process.env): string {
  const text = env.SLUICE_KAFKA_VERSION;
  return text === undefined || text === ''
    ? KAFKA_VERSION
    : checkedKafkaVersion(text, 'SLUICE_KAFKA_VERSION');
}

/** `text` when it names a full release of a line the stack runs (`4.4.0`); otherwise why not. */
export function checkedKafkaVersion(text: string, where: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
  const line = match ? `${match[1]}.${match[2]}` : undefined;
  if (!line || !(KAFKA_LINES as readonly string[]).includes(line)) {
    throw new StackError(
      `${where}: expected an Apache Kafka release of the lines ${KAFKA_LINES.join(', ')} written in full ` +
        `(e.g. ${KAFKA_VERSION} or 3.9.1), found ${JSON.stringify(text)}`,
    );
  }
  return text;
}

const major = (version: string) => Number(version.split('.')[0]);

/** How a broker of `version` logs: the binding its jars need, its config file and the JVM flag naming it. */
export interface BrokerLogging {
  /** Maven coordinates beside the broker: group, artifact, version. */
  dependencies: ReadonlyArray<readonly [string, string, string]>;
  file: string;
  content: string;
  jvmFlag(path: string): string;
}

const LOG4J1 = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
`;

const LOG4J2 = `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.stateChange.name = state.change.logger
logger.stateChange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

/** The log4j 2 release Kafka 4.x's own jars use; the slf4j 1.x binding must match it. */
const LOG4J2_VERSION = '2.25.5';

export function brokerLoggingOf(version: string): BrokerLogging {
  if (major(version) < 4) {
    return {
      // What the 3.9 release tarball ships: slf4j 1.7 bound to reload4j.
      dependencies: [
        ['org.slf4j', 'slf4j-reload4j', '1.7.36'],
        ['ch.qos.reload4j', 'reload4j', '1.2.25'],
      ],
      file: 'log4j.properties',
      content: LOG4J1,
      jvmFlag: (path) => `-Dlog4j.configuration=file:${path}`,
    };
  }
  return {
    // Kafka 4 logs with slf4j 1.7 (its jars) through log4j 2 (its tarball adds the binding).
    dependencies: [['org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J2_VERSION]],
    file: 'log4j2.properties',
    content: LOG4J2,
    jvmFlag: (path) => `-Dlog4j2.configurationFile=file:${path}`,
  };
}

/**
 * Broker settings a release line needs beyond those all lines share. Kafka 4's share coordinator keeps
 * its state in an internal topic that wants three replicas and two in sync unless told otherwise.
 */
export function releaseProperties(version: string, replicas: number): string {
  if (major(version) < 4) return '';
  return `share.coordinator.state.topic.replication.factor=${replicas}
share.coordinator.state.topic.min.isr=1
`;
}
