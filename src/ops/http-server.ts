// The operations endpoints of a running pipeline: /healthz (liveness: the process serves and the
// pipeline has not stopped), /readyz (joined its group and restored its state), /status (JSON: per
// partition counters, buffer, pauses, watermark, windows; restores in progress) and /metrics
// (Prometheus text). node:http is enough for four read-only routes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the endpoints read of a running pipeline (RunningPipeline has it). */
export interface ServedPipeline {
  readonly done: Promise<void>;
  isReady(): boolean;
  /** Alive and making progress; the reason when not (served as /healthz). */
  health(): { healthy: boolean; reason?: string };
  /** Served as /status; its `restoring` part also with /readyz. */
  pipelineStatus(): { restoring: unknown };
  /** The Prometheus text served as /metrics. */
  metrics(): Promise<string>;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(
  pipeline: ServedPipeline,
  options: { host: string; port: number },
): Promise<OpsServer> {
  let stopped = false;
  pipeline.done.then(
    () => (stopped = true),
    () => (stopped = true),
  );
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: string, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') return send(405, JSON.stringify({ error: 'GET only' }));
    switch (path) {
      case '/healthz': {
        if (stopped) return send(503, JSON.stringify({ status: 'stopped' }));
        const health = pipeline.health();
        return health.healthy
          ? send(200, JSON.stringify({ status: 'ok' }))
          : send(503, JSON.stringify({ status: 'stalled', reason: health.reason }));
      }
      case '/readyz': {
        const status = pipeline.pipelineStatus();
        const body = JSON.stringify({ ready: pipeline.isReady(), restoring: status.restoring });
        return send(pipeline.isReady() ? 200 : 503, body);
      }
      case '/status':
        return send(
          200,
          JSON.stringify({ ready: pipeline.isReady(), ...pipeline.pipelineStatus() }, null, 2),
        );
      case '/metrics':
        pipeline.metrics().then(
          (text) => send(200, text, 'text/plain; version=0.0.4'),
          (error: unknown) => send(500, JSON.stringify({ error: String(error) })),
        );
        return;
      default:
        return send(
          404,
          JSON.stringify({ error: `no route ${path}; try /healthz, /readyz, /status, /metrics` }),
        );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
