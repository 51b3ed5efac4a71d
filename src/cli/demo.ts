// `sluice demo`: the user-events pipeline on the local stack with live sample events; the demo itself
// is src/tools/demo/demo.ts.
import type { Command } from 'commander';
import { runDemo, type DemoOptions } from '../tools/demo/demo.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'start the local stack, run the user-events pipeline on live sample events and show its health and aggregates until Ctrl-C',
    )
    .option('-r, --rate <n>', 'live events per second', '200')
    .option('-d, --duration <duration>', 'stop by itself after this long (default: run until Ctrl-C)')
    .option('-p, --partitions <n>', 'partitions of user-events when the demo creates it', '4')
    .option('--keep-stack', 'leave the local stack running afterwards (it is stopped if the demo started it)')
    .action((opts: DemoOptions) => runDemo(opts));
}
