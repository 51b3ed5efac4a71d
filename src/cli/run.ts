// `sluice run --config <file>`: runs a pipeline until SIGTERM or SIGINT, then drains and leaves the
// group within `shutdown.timeout`. Exits non-zero when a stage aborted the pipeline.
import type { Command } from 'commander';
import { loadPipelineFile } from '../config/load.js';
import { run } from '../index.js';
import { createLogger } from '../ops/logger.js';
import { startOpsServer } from '../ops/http-server.js';
import { ConfigError } from '../config/config-error.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a pipeline as a member of its consumer group, until SIGTERM or SIGINT')
    .requiredOption('-c, --config <file>', 'pipeline definition (YAML or JSON)')
    .action(async (opts: { config: string }) => {
      const pipeline = await loadPipelineFile(opts.config);
      const logger = createLogger();
      const running = await run(pipeline, { logger });
      if (pipeline.http.enabled) {
        const ops = await startOpsServer(running, pipeline.http).catch((error: unknown) => {
          void running.stop();
          throw new ConfigError(
            [
              {
                path: 'http.port',
                expected: 'a free port to serve /healthz, /readyz, /status and /metrics',
                found: pipeline.http.port,
              },
            ],
            opts.config,
            error,
          );
        });
        logger.info(
          { port: ops.port, host: pipeline.http.host },
          'serving /healthz /readyz /status /metrics',
        );
        void running.done.finally(() => ops.close()).catch(() => undefined);
      }
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'stopping');
        void running.stop();
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      await running.done;
      // Everything is committed and closed; a handle a client library still holds must not keep the
      // process (a pod in Terminating) alive. Give stdout a moment to flush.
      setTimeout(() => process.exit(0), 200).unref();
    });
}
