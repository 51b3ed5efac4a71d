#!/usr/bin/env node
// The `sluice` command line: one file per command group; errors print their message, not a stack trace.
// Fixes kafkajs' read_committed filter for every kafkajs reader of this process (in any import order).
import '../source/kafkajs-fix.js';
// Lets kafkajs encode the records it produces without a zero-filled buffer per record and header.
import '../source/kafkajs-encoder.js';
// Keeps kafkajs from asking Node for negative timeouts (a warning on stderr on Node 24).
import '../source/kafkajs-timers.js';
import { Command } from 'commander';
import { SluiceError } from '../errors.js';
import { SLUICE_VERSION } from '../version.js';
import { registerBenchCommand } from './bench.js';
import { registerDemoCommand } from './demo.js';
import { registerDlqCommands } from './dlq.js';
import { registerLateCommands } from './late.js';
import { registerMigrateCommand } from './migrate.js';
import { registerProduceCommand } from './produce.js';
import { registerRunCommand } from './run.js';
import { registerSchemasCommand } from './schemas.js';
import { registerStackCommands } from './stack.js';
import { registerStateCommands } from './state.js';
import { registerValidateConfigCommand } from './validate-config.js';

const program = new Command('sluice')
  .description('Kafka stream processing with event-time windows into ClickHouse')
  .version(SLUICE_VERSION)
  .showHelpAfterError();

registerRunCommand(program);
registerDemoCommand(program);
registerDlqCommands(program);
registerLateCommands(program);
registerMigrateCommand(program);
registerProduceCommand(program);
registerSchemasCommand(program);
registerStackCommands(program);
registerStateCommands(program);
registerBenchCommand(program);
registerValidateConfigCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof SluiceError) {
    console.error(`sluice: ${error.message}`);
  } else if (error instanceof AggregateError) {
    for (const inner of error.errors as unknown[])
      console.error(`sluice: ${inner instanceof Error ? inner.message : String(inner)}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
  // A client library may still hold a connection open: an error must end the process, not hang it.
  setTimeout(() => process.exit(1), 500).unref();
}
