import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/ops/logger.js';

describe('logs', () => {
  it('redact passwords, SASL settings and authorization headers wherever they are nested', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    logger.info(
      {
        password: 'p1',
        clickhouse: { password: 'p2' },
        sinks: { clickhouse: { password: 'p3' } },
        sasl: { mechanism: 'plain', username: 'u', password: 'p4' },
        kafka: { sasl: { password: 'p5' } },
        request: { headers: { authorization: 'Basic cDY=' } },
      },
      'connecting',
    );
    const text = lines.join('');
    for (const secret of ['p1', 'p2', 'p3', 'p4', 'p5', 'Basic cDY=']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    expect(JSON.parse(text)).toMatchObject({ msg: 'connecting', clickhouse: { password: '[redacted]' } });
  });
});
