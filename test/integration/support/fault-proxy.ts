// A TCP proxy in front of a real server (ClickHouse here) that a test can cut or slow down, to play a
// sink that fails for a while or answers slowly. The server itself stays real; only the wire is faulty.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  /** The proxy's address, e.g. `http://127.0.0.1:41234` for an HTTP target. */
  readonly url: string;
  /** Refuses new connections and resets open ones until `restore()`. */
  cut(): void;
  /** Delays every chunk from the server by `ms` until `restore()`. */
  slow(ms: number): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let down = false;
  let delayMs = 0;

  const server: Server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (delayMs === 0) {
        client.write(chunk);
        return;
      }
      upstream.pause();
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
        upstream.resume();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    slow(ms) {
      delayMs = ms;
    },
    restore() {
      down = false;
      delayMs = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
