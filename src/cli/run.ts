// `sluice run --config <file>`: runs a pipeline until SIGTERM or SIGINT, then stops cleanly.
import type { Command } from 'commander';
import { loadPipelineFile } from '../config/load.js';
import { run } from '../index.js';
import { createLogger } from '../ops/logger.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a pipeline as a member of its consumer group, until SIGTERM or SIGINT')
    .requiredOption('-c, --config <file>', 'pipeline definition (YAML or JSON)')
    .action(async (opts: { config: string }) => {
      const pipeline = await loadPipelineFile(opts.config);
      const logger = createLogger();
      const running = await run(pipeline, { logger });
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          logger.info({ signal }, 'stopping');
          running.stop().then(resolve, (error: unknown) => {
            logger.error({ err: error }, 'stop failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
    });
}
