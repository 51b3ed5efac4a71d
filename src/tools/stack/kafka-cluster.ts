// A three-node Apache Kafka cluster in KRaft mode for the fault scenarios that need a broker out of
// reach while others answer: node 1 is the controller and a broker, nodes 2 and 3 are brokers only, so
// stopping either of them leaves the quorum and the metadata intact. The internal topics (offsets,
// transactions) and topics created without a replication factor get three replicas with min.isr 1:
// the group and transaction coordinators move to a live broker when one stops. A topic created with
// replication factor 1 loses exactly the partitions of the stopped broker. The single-broker stack
// (kafka-server.ts) is unchanged.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveKafkaJars } from './kafka-jars.js';
import { releaseProperties, selectedKafkaVersion } from './kafka-release.js';
import { brokerReady, clusterId, startBrokerProcess, writeBrokerLogging } from './kafka-server.js';
import { stopProcess, waitUntilReady } from './processes.js';
import { StackError } from './stack-error.js';

const run = promisify(execFile);
/** Three JVMs on a small machine: less heap each than the single broker's. */
const HEAP = '512m';

export interface ClusterNode {
  nodeId: number;
  /** This node's bootstrap address, host:port. */
  brokers: string;
  dir: string;
  pid: number;
  /** The Apache Kafka release it runs. */
  version: string;
}

export interface KafkaCluster {
  /** Every node's address, comma-separated; node 1 (the controller) first. */
  brokers: string;
  nodes: ClusterNode[];
}

export interface ClusterStartOptions {
  dir: string;
  /** One client port per node (three), and node 1's controller port. */
  ports: readonly number[];
  controllerPort: number;
  /** The Apache Kafka release; defaults to SLUICE_KAFKA_VERSION or the stack's default. */
  version?: string;
}

function nodeProperties(
  version: string,
  nodeId: number,
  port: number,
  controllerPort: number,
  logDir: string,
): string {
  const controller = nodeId === 1;
  const listeners = controller
    ? `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`
    : `PLAINTEXT://127.0.0.1:${port}`;
  return `# Written by sluice stack: node ${nodeId} of a three-node KRaft cluster for fault scenarios.
process.roles=${controller ? 'broker,controller' : 'broker'}
node.id=${nodeId}
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=${listeners}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${logDir}
num.partitions=1
default.replication.factor=3
min.insync.replicas=1
offsets.topic.replication.factor=3
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
log.segment.bytes=104857600
${releaseProperties(version, 3)}`;
}

/** Formats and starts the three nodes, then waits until each answers and a group can join. */
export async function startKafkaCluster(options: ClusterStartOptions): Promise<KafkaCluster> {
  if (options.ports.length !== 3)
    throw new StackError('a Kafka cluster here has three nodes: pass three ports');
  const version = options.version ?? selectedKafkaVersion();
  const libs = await resolveKafkaJars(version);
  const id = clusterId();
  const nodes: ClusterNode[] = [];
  for (const [index, port] of options.ports.entries()) {
    const nodeId = index + 1;
    const dir = join(options.dir, `node-${nodeId}`);
    const dataDir = join(dir, 'data');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const configFile = join(dir, 'server.properties');
    await writeFile(configFile, nodeProperties(version, nodeId, port, options.controllerPort, dataDir));
    const logging = await writeBrokerLogging(dir, version);
    const format = ['kafka.tools.StorageTool', 'format', `--cluster-id=${id}`, '--config', configFile];
    await run('java', [logging, '-cp', `${libs}/*`, ...format], { timeout: 120_000 }).catch(
      (error: Error) => {
        throw new StackError(
          `formatting node ${nodeId}'s storage in ${dataDir} failed: ${error.message}`,
          error,
        );
      },
    );
    nodes.push({ nodeId, brokers: `127.0.0.1:${port}`, dir, pid: 0, version });
  }
  // All at once: the internal topics need three live brokers before any node can say a group may join.
  for (const node of nodes) node.pid = startBrokerProcess(node.dir, libs, version, HEAP);
  const cluster = { brokers: nodes.map((n) => n.brokers).join(','), nodes };
  try {
    for (const node of nodes) await waitForNode(node);
  } catch (error) {
    await stopKafkaCluster(cluster);
    throw error;
  }
  return cluster;
}

/** Starts a stopped node again on its data; resolves once it answers and a group can join through it. */
export async function restartNode(node: ClusterNode): Promise<void> {
  const libs = await resolveKafkaJars(node.version);
  node.pid = startBrokerProcess(node.dir, libs, node.version, HEAP);
  await waitForNode(node);
}

export async function stopKafkaCluster(cluster: KafkaCluster): Promise<void> {
  await Promise.all(cluster.nodes.filter((n) => n.pid > 0).map((n) => stopProcess(n.pid, 10_000)));
}

function waitForNode(node: ClusterNode): Promise<void> {
  return waitUntilReady(
    `Kafka ${node.version} node ${node.nodeId}`,
    node.pid,
    join(node.dir, 'kafka.log'),
    120_000,
    () => brokerReady(node.brokers),
  );
}
