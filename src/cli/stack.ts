// `sluice stack up|status|down`: the local Kafka + ClickHouse used by the demo and the tests.
import type { Command } from 'commander';
import {
  clickhouseServersOf,
  STACK_CLUSTER,
  stackDown,
  stackStatus,
  stackUp,
} from '../tools/stack/local-stack.js';
import { defaultStackDir } from '../config/local-stack-endpoints.js';
import { KAFKA_LINES, KAFKA_VERSION } from '../tools/stack/kafka-release.js';
import type { StackState } from '../tools/stack/stack-state.js';

function describe(state: StackState): string {
  return [
    `kafka       ${state.kafka.brokers}  (Apache Kafka ${state.kafka.version}, KRaft, pid ${state.kafka.pid})`,
    ...(state.kafka.secure
      ? [
          `kafka+tls   ${state.kafka.secure.brokers}  (${state.kafka.secure.protocol}: ${state.kafka.secure.mechanisms.join(', ')}; ` +
            `user ${state.kafka.secure.username}, CA ${state.kafka.secure.caFile}; password in \`stack status --json\`)`,
        ]
      : []),
    ...clickhouseServersOf(state).map(
      (server) =>
        `clickhouse  ${server.url}  (ClickHouse ${server.version}, pid ${server.pid}` +
        (server.replica
          ? `; replica ${server.replica} of cluster ${server.cluster}, native port ${server.tcpPort})`
          : ')'),
    ),
    ...(state.zookeeper
      ? [
          `zookeeper   127.0.0.1:${state.zookeeper.port}  (Apache ZooKeeper ${state.zookeeper.version}, pid ${state.zookeeper.pid})`,
        ]
      : []),
    `logs        ${state.kafka.logFile}`,
    ...clickhouseServersOf(state).map((server) => `            ${server.logFile}`),
    ...(state.zookeeper ? [`            ${state.zookeeper.logFile}`] : []),
  ].join('\n');
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('run a local Apache Kafka (KRaft, from Maven Central jars) and ClickHouse, without Docker');
  const dirOption = ['--dir <path>', 'folder for the stack state, data and logs', defaultStackDir()] as const;

  stack
    .command('up')
    .description('start the stack (idempotent: a running stack is left as it is)')
    .option(...dirOption)
    .option(
      '--kafka-version <version>',
      `the Apache Kafka release to run (lines ${KAFKA_LINES.join(', ')}; default: SLUICE_KAFKA_VERSION, else ${KAFKA_VERSION})`,
    )
    .option(
      '--clickhouse-replicas <n>',
      `ClickHouse servers: 1, or 2 (or 3) replicas of a cluster named ${STACK_CLUSTER} coordinated by a ZooKeeper`,
    )
    .action(async (opts: { dir: string; kafkaVersion?: string; clickhouseReplicas?: string }) => {
      const started = Date.now();
      const state = await stackUp({
        dir: opts.dir,
        kafkaVersion: opts.kafkaVersion,
        ...(opts.clickhouseReplicas === undefined
          ? {}
          : { clickhouseReplicas: Number(opts.clickhouseReplicas) }),
        log: (line) => console.error(line),
      });
      console.log(describe(state));
      console.log(
        `ready in ${((Date.now() - started) / 1000).toFixed(1)}s; stop it with \`sluice stack down\``,
      );
    });

  stack
    .command('status')
    .description('show whether the stack runs, and where')
    .option(...dirOption)
    .option('--json', 'print the state file as JSON')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const status = await stackStatus(opts.dir);
      if (opts.json) {
        console.log(JSON.stringify(status, null, 2));
      } else {
        console.log(`stack: ${status.health}`);
        if (status.state) console.log(describe(status.state));
      }
      if (status.health !== 'running') process.exitCode = 3;
    });

  stack
    .command('down')
    .description('stop the stack’s processes')
    .option(...dirOption)
    .action(async (opts: { dir: string }) => {
      const stopped = await stackDown({ dir: opts.dir });
      console.log(stopped ? 'stack stopped' : 'no stack was running');
    });
}
