// A missing broker or ClickHouse fails fast with a message that says where Sluice looked and how to
// start one, from the CLI as from the library API.
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { definePipeline, run } from '../../../src/index.js';
import { createLogger } from '../../../src/ops/logger.js';
import { freePort } from '../../../src/tools/stack/ports.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';

const windows = [{ name: 'w', type: 'tumbling' as const, size: '1m', groupBy: ['url'] }];

describe('unreachable endpoints', () => {
  it('names the broker address it tried and how to start the local stack', async () => {
    const port = await freePort();
    const config = writeConfig({
      name: 'nobroker',
      source: { brokers: [`127.0.0.1:${port}`] },
      windows,
      sinks: { clickhouse: { url: inject('clickhouseUrl') } },
    });
    const { code, output } = await runSluice(['run', '--config', config]);
    expect(code).toBe(1);
    expect(output).toContain(`could not reach Kafka at 127.0.0.1:${port}`);
    expect(output).toContain('sluice stack up');
  });

  it('names the ClickHouse URL it tried and how to start the local stack', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const pipeline = definePipeline({ name: 'noclickhouse', windows });
    const attempt = run(pipeline, {
      logger: createLogger('silent'),
      endpoints: {
        brokers: [inject('kafkaBrokers')],
        clickhouse: { url, username: 'default', password: '', database: 'sluice' },
      },
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'SLUICE_SINK_UNAVAILABLE',
      message: expect.stringContaining(`could not reach ClickHouse at ${url}`) as unknown,
    });
  });

  it('rejects an invalid config naming the field, the expectation and the value found', async () => {
    const config = writeConfig({ name: 'bad', windows: [{ name: 'w', type: 'tumbling', size: 'sixty' }] });
    const { code, output } = await runSluice(['run', '--config', config]);
    expect(code).toBe(1);
    expect(output).toContain(
      `windows[0].size: expected a duration such as '1m', '30s' or '250ms', found "sixty"`,
    );
  });
});
