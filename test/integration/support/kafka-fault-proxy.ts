// A TCP proxy in front of a Kafka broker that reads the Kafka protocol's framing, so a test can cut the
// wire at a precise step of a transaction: when a client sends EndTxn (the commit), TxnOffsetCommit, or
// any other request, optionally the Nth one. The broker must advertise the proxy's port
// (`advertisedPort` of startKafka) so that every client connection, bootstrap or not, goes through it.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** The request types the scenarios cut at, by their Kafka api key. */
export const API_KEYS = {
  Produce: 0,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  TxnOffsetCommit: 28,
} as const;

const TRANSACTIONAL = new Set<number>([24, 25, 26, 28]);
/** The first flexible (compact-string) version of each transactional request; kafkajs 2.2 sends older ones. */
const FIRST_FLEXIBLE = 3;

/** A client request as framed on the wire: int32 size, int16 api key, int16 version, int32 correlation id. */
export interface KafkaRequest {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The transactional id of a transactional request (api keys 24, 25, 26, 28), when readable. */
  transactionalId?: string;
  /** EndTxn only: true for a commit, false for an abort. */
  commit?: boolean;
}

export interface CutTrigger {
  apiKey: number;
  /** Cut at the Nth matching request from arming (default 1: the next one). */
  nth?: number;
  /** Only requests this accepts count, e.g. `(r) => r.commit === true` for EndTxn commits. */
  match?: (request: KafkaRequest) => boolean;
  /**
   * 'request' (default): the connections are cut instead of forwarding the request, so the broker
   * never sees it. 'response': the request reaches the broker, and the connections are cut when its
   * answer comes back, which the client never gets (the broker did it; the client cannot know).
   */
  at?: 'request' | 'response';
  /** How long new connections are refused after the cut (default 1 s). */
  refuseMs?: number;
}

export interface KafkaCut {
  request: KafkaRequest;
  at: 'request' | 'response';
  /** Open connections reset by the cut. */
  connections: number;
  time: number;
}

export interface KafkaFaultProxy {
  readonly port: number;
  /** `127.0.0.1:<port>`: the address clients bootstrap from. */
  readonly address: string;
  /**
   * Arms one cut; resolves when it happened. Only one cut is armed at a time. On a cut every open
   * connection is reset and new ones are refused for `refuseMs`, then accepted again.
   */
  arm(trigger: CutTrigger): Promise<KafkaCut>;
  /**
   * Resolves when the Nth matching request has been forwarded to the broker, without cutting anything:
   * for a fault of the test's own timed on a protocol step (freezing the broker mid-commit, say).
   */
  next(trigger: Omit<CutTrigger, 'at' | 'refuseMs'>): Promise<KafkaRequest>;
  /** Drops the armed trigger; its promise never resolves. */
  disarm(): void;
  /** Cuts now, whatever is in flight. */
  cutNow(refuseMs?: number): void;
  /** Every cut so far. */
  readonly cuts: readonly KafkaCut[];
  /** Requests of `apiKey` forwarded to the broker so far. */
  seen(apiKey: number): number;
  /**
   * From now on every client request goes to the broker as `rewrite` returns it (the same frame, or
   * another of the same framing); undefined forwards them as sent again.
   */
  rewrite(rewrite: ((request: KafkaRequest, frame: Buffer) => Buffer) | undefined): void;
  close(): Promise<void>;
}

/** Collects a byte stream into complete Kafka frames (int32 size, then that many bytes). */
class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const frames: Buffer[] = [];
    while (this.length >= 4) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.joined();
      const size = 4 + head.readInt32BE(0);
      if (this.length < size) break;
      const all = this.joined();
      frames.push(all.subarray(0, size));
      const rest = all.subarray(size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.length = rest.length;
    }
    return frames;
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0]!;
  }
}

function readString(frame: Buffer, at: number): { value: string | null; next: number } {
  const length = frame.readInt16BE(at);
  if (length < 0) return { value: null, next: at + 2 };
  return { value: frame.toString('utf8', at + 2, at + 2 + length), next: at + 2 + length };
}

/** The request header (v1, what kafkajs sends) and, for transactional requests, their transactional id. */
export function parseRequest(frame: Buffer): KafkaRequest {
  const apiKey = frame.readInt16BE(4);
  const apiVersion = frame.readInt16BE(6);
  const correlationId = frame.readInt32BE(8);
  const client = readString(frame, 12);
  const request: KafkaRequest = { apiKey, apiVersion, correlationId, clientId: client.value };
  if (TRANSACTIONAL.has(apiKey) && apiVersion < FIRST_FLEXIBLE) {
    const id = readString(frame, client.next);
    request.transactionalId = id.value ?? undefined;
    // EndTxn v0-v2: transactional_id, producer_id int64, producer_epoch int16, committed boolean.
    if (apiKey === API_KEYS.EndTxn) request.commit = frame.readInt8(id.next + 10) !== 0;
  }
  return request;
}

interface Armed {
  trigger: CutTrigger;
  remaining: number;
  resolve: (cut: KafkaCut) => void;
  /** A 'response' trigger that fired: the connection and correlation id whose answer is awaited. */
  awaiting?: { client: Socket; request: KafkaRequest };
}

export async function startKafkaFaultProxy(options: {
  /** The proxy's port: the one the broker advertises. */
  port: number;
  /** The broker's real listener, `host:port`. */
  target: string;
}): Promise<KafkaFaultProxy> {
  const [host, targetPort] = options.target.split(':');
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const cuts: KafkaCut[] = [];
  const forwarded = new Map<number, number>();
  let refusingUntil = 0;
  let armed: Armed | undefined;
  let rewriting: ((request: KafkaRequest, frame: Buffer) => Buffer) | undefined;
  let watchers: { trigger: CutTrigger; remaining: number; resolve: (r: KafkaRequest) => void }[] = [];

  const watch = (request: KafkaRequest) => {
    watchers = watchers.filter((w) => {
      if (request.apiKey !== w.trigger.apiKey || (w.trigger.match && !w.trigger.match(request))) return true;
      w.remaining -= 1;
      if (w.remaining > 0) return true;
      w.resolve(request);
      return false;
    });
  };

  const cut = (refuseMs: number): number => {
    refusingUntil = Date.now() + refuseMs;
    const connections = clients.size;
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
    clients.clear();
    return connections;
  };

  const fire = (request: KafkaRequest, at: 'request' | 'response') => {
    const current = armed!;
    armed = undefined;
    const record: KafkaCut = {
      request,
      at,
      connections: cut(current.trigger.refuseMs ?? 1_000),
      time: Date.now(),
    };
    cuts.push(record);
    current.resolve(record);
  };

  /** Whether the request goes on to the broker. */
  const onRequest = (client: Socket, request: KafkaRequest): boolean => {
    if (!armed || armed.awaiting || request.apiKey !== armed.trigger.apiKey) return true;
    if (armed.trigger.match && !armed.trigger.match(request)) return true;
    armed.remaining -= 1;
    if (armed.remaining > 0) return true;
    if ((armed.trigger.at ?? 'request') === 'response') {
      armed.awaiting = { client, request };
      return true;
    }
    fire(request, 'request');
    return false;
  };

  const server: Server = createServer((client) => {
    if (Date.now() < refusingUntil) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(targetPort), host);
    sockets.add(client).add(upstream);
    clients.add(client);
    const forget = () => {
      clients.delete(client);
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
      // The awaited answer cannot come any more: the next matching request fires instead.
      if (armed?.awaiting?.client === client) {
        armed.awaiting = undefined;
        armed.remaining = 1;
      }
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);

    const requests = new FrameReader();
    client.on('data', (chunk: Buffer) => {
      for (const frame of requests.push(chunk)) {
        const request = parseRequest(frame);
        if (!onRequest(client, request)) return;
        forwarded.set(request.apiKey, (forwarded.get(request.apiKey) ?? 0) + 1);
        upstream.write(rewriting ? rewriting(request, frame) : frame);
        watch(request);
      }
    });
    const responses = new FrameReader();
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of responses.push(chunk)) {
        const awaiting = armed?.awaiting;
        if (awaiting?.client === client && frame.readInt32BE(4) === awaiting.request.correlationId) {
          fire(awaiting.request, 'response');
          return;
        }
        client.write(frame);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });

  return {
    port: options.port,
    address: `127.0.0.1:${options.port}`,
    arm(trigger) {
      if (armed) throw new Error(`a cut at api key ${armed.trigger.apiKey} is armed already`);
      return new Promise((resolve) => {
        armed = { trigger, remaining: trigger.nth ?? 1, resolve };
      });
    },
    next(trigger) {
      return new Promise((resolve) => watchers.push({ trigger, remaining: trigger.nth ?? 1, resolve }));
    },
    disarm() {
      armed = undefined;
    },
    cutNow(refuseMs = 1_000) {
      cut(refuseMs);
    },
    cuts,
    seen: (apiKey) => forwarded.get(apiKey) ?? 0,
    rewrite(rewrite) {
      rewriting = rewrite;
    },
    close() {
      armed = undefined;
      watchers = [];
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
