// A partition's windows built from a validated pipeline as the partition worker builds them: compiled
// definitions, the packed store, the binary changelog.
import type { Pipeline } from '../../src/config/schema.js';
import { windowChangelog } from '../../src/state/changelog-codec.js';
import { PackedWindowStore } from '../../src/state/packed-window-store.js';
import { PartitionWindows } from '../../src/windows/partition-windows.js';
import { defineWindow } from '../../src/windows/window-definition.js';

export function partitionWindowsOf(
  pipeline: Pick<Pipeline, 'time' | 'windows' | 'state' | 'source'>,
): PartitionWindows<Buffer> {
  return new PartitionWindows(
    {
      windows: pipeline.windows.map((w) => defineWindow(w, pipeline.time, pipeline.source.keyedBy)),
      time: pipeline.time,
      stateMaxBytes: pipeline.state.maxBytes,
    },
    new PackedWindowStore(),
    windowChangelog,
    new PackedWindowStore(),
  );
}
