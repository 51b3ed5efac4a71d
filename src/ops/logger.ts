// Structured logs with pino. Secrets are redacted here, once, not at each call site; partition workers
// log through child loggers bound to { topic, partition }.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'sasl',
  '*.sasl',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: process.env.SLUICE_LOG_LEVEL ?? level,
    base: { service: 'sluice' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination as pino.DestinationStream);
}
