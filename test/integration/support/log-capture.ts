// A pino logger for pipelines run inside the test process, whose lines the test can read back (to
// count rebalances or pauses, or to show what happened when an assertion fails).
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../src/ops/logger.js';

export interface CapturedLog {
  logger: Logger;
  /** The parsed log lines so far. */
  lines(): Record<string, unknown>[];
  /** How many lines carry this message. */
  count(msg: string): number;
  tail(n?: number): string;
}

export function captureLog(): CapturedLog {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const lines = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    logger: createLogger('info', stream),
    lines,
    count: (msg) => lines().filter((line) => line.msg === msg).length,
    tail: (n = 30) => raw.slice(-n).join('\n'),
  };
}
