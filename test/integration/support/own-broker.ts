// A Kafka broker of a test's own, not the run's shared one: for scenarios that kill, freeze, restart or
// cut their broker, or need unusual broker settings. It lives in a temporary directory, optionally
// behind the Kafka fault proxy (which it then advertises, so every connection, the broker's own
// transaction markers included, goes through the proxy). Everything it starts is left to `cleanups`,
// which the test runs in reverse order.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { restartKafka, startKafka } from '../../../src/tools/stack/kafka-server.js';
import { freePorts } from '../../../src/tools/stack/ports.js';
import { stopProcess } from '../../../src/tools/stack/processes.js';
import type { KafkaState } from '../../../src/tools/stack/stack-state.js';
import { testKafka } from './fixtures.js';
import { startKafkaFaultProxy, type KafkaFaultProxy } from './kafka-fault-proxy.js';

export type Cleanups = (() => Promise<unknown>)[];

export interface OwnBroker {
  /** The broker's directory (its data, server.properties and kafka.log). */
  readonly dir: string;
  readonly state: KafkaState;
  /** The broker process now (a restart changes it). */
  readonly pid: number;
  /** Present when started with `proxy: true`. */
  readonly proxy?: KafkaFaultProxy;
  /** Where clients bootstrap: the proxy's address when there is one. */
  readonly address: string;
  /** A client of this broker. */
  readonly kafka: Kafka;
  /** Starts the broker again on its data (after a stop or a kill). */
  restart(): Promise<void>;
}

export async function startOwnBroker(
  name: string,
  cleanups: Cleanups,
  options: { proxy?: boolean; extraProperties?: Readonly<Record<string, string>> } = {},
): Promise<OwnBroker> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const [port, controllerPort, securePort, proxyPort] = await freePorts(4);
  const proxy = options.proxy
    ? await startKafkaFaultProxy({ port: proxyPort!, target: `127.0.0.1:${port}` })
    : undefined;
  if (proxy) cleanups.push(() => proxy.close());
  const state = await startKafka({
    dir,
    port: port!,
    controllerPort: controllerPort!,
    securePort: securePort!,
    ...(proxy ? { advertisedPort: proxy.port } : {}),
    ...(options.extraProperties ? { extraProperties: options.extraProperties } : {}),
  });
  let pid = state.pid;
  cleanups.push(() => stopProcess(pid, 10_000));
  const address = proxy?.address ?? state.brokers;
  return {
    dir,
    state,
    get pid() {
      return pid;
    },
    ...(proxy ? { proxy } : {}),
    address,
    kafka: testKafka(address),
    async restart() {
      pid = await restartKafka(state);
    },
  };
}
