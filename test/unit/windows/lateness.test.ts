// The lateness the re-keying side decides for a whole event, before it leaves for the repartition
// topic, is the lateness the window engine finds when it absorbs the event at the same watermark:
// checked on random definitions (with and without allowed lateness), event times and watermarks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { lateness } from '../../../src/windows/lateness.js';
import { defineWindow } from '../../../src/windows/window-definition.js';
import { partitionWindowsOf } from '../../support/partition-windows.js';

const OUT_OF_ORDERNESS = 1_000;

describe('lateness', () => {
  it('agrees with the window engine on where an event is late, and lets it into exactly the other windows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 20_000, max: 60_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        (grace, allowedLateness, watermark, eventTime) => {
          const pipeline = validatePipeline({
            name: 'p',
            time: { maxOutOfOrderness: OUT_OF_ORDERNESS, grace, idleTimeout: '1h' },
            windows: [
              { name: 'tumbling', type: 'tumbling', size: '10s', groupBy: ['k'], allowedLateness },
              {
                name: 'sliding',
                type: 'sliding',
                size: '10s',
                advance: '2s',
                groupBy: ['k'],
                allowedLateness,
              },
              { name: 'session', type: 'session', gap: '3s', groupBy: ['k'] },
            ],
          });
          const engine = partitionWindowsOf(pipeline);
          // An event of another key sets the watermark; then the event under test.
          engine.absorb({ value: { k: 'other' }, eventTimeMs: watermark + OUT_OF_ORDERNESS }, 0n, 0);
          const outcome = engine.absorb({ value: { k: 'x' }, eventTimeMs: eventTime }, 1n, 0);
          const definitions = pipeline.windows.map((w) => defineWindow(w, pipeline.time, undefined));
          const judged = lateness(definitions, eventTime, watermark);
          expect(judged.late).toEqual(outcome.late);
          // Admitted: what is not late, per definition; a definition late nowhere is admitted whole.
          for (const d of definitions) {
            const late = judged.late.find((l) => l.definition === d.name);
            const refs = judged.admitted.filter((ref) => ref === d.name || ref.startsWith(`${d.name}@`));
            if (!late) expect(refs).toEqual([d.name]);
            else if (d.type === 'session') expect(refs).toEqual([]);
            else for (const ref of refs) expect(late.windowStarts).not.toContain(Number(ref.split('@')[1]));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
