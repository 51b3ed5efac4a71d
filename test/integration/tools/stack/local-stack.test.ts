// `sluice stack` on its own folder: up is idempotent, status tells the truth, down leaves no process,
// and a taken port is refused with a message that names it.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stackDown, stackStatus, stackUp } from '../../../../src/tools/stack/local-stack.js';
import { isAlive } from '../../../../src/tools/stack/processes.js';
import { runSluice } from '../../support/sluice-process.js';

describe('local stack', () => {
  const dirs: string[] = [];

  afterAll(async () => {
    for (const dir of dirs) {
      await stackDown({ dir });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts once, reports itself running, and stops every process it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stack-'));
    dirs.push(dir);
    const first = await stackUp({ dir });
    const again = await stackUp({ dir });
    expect(again.kafka.pid).toBe(first.kafka.pid);
    expect(again.clickhouse.pid).toBe(first.clickhouse.pid);

    const status = await runSluice(['stack', 'status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.output).toContain('stack: running');
    expect(status.output).toContain(first.kafka.brokers);
    expect(status.output).toContain(first.clickhouse.url);

    const down = await runSluice(['stack', 'down', '--dir', dir]);
    expect(down.output).toContain('stack stopped');
    expect(isAlive(first.kafka.pid)).toBe(false);
    expect(isAlive(first.clickhouse.pid)).toBe(false);
    expect((await stackStatus(dir)).health).toBe('stopped');
  });

  it('refuses a requested port that another process holds, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stack-'));
    dirs.push(dir);
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const result = await runSluice(['stack', 'up', '--dir', dir], { SLUICE_KAFKA_PORT: String(port) });
      expect(result.code).toBe(1);
      expect(result.output).toContain(`SLUICE_KAFKA_PORT=${port}: that port is taken by another process`);
    } finally {
      holder.close();
    }
  });
});
