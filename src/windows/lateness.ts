// When an event is late, in one place: a tumbling or sliding window misses it once the watermark has
// passed its end + grace (+ allowed lateness, for a window kept after it fired), a session once the
// watermark has passed the event's time + grace. The partition's window engine asks per window as it
// absorbs; the re-keying side (repartition.ts) asks for the whole event, against the watermark of the
// event's source partition, before the event leaves for the repartition topic. Pure.
import { slidingWindowsOf } from './sliding.js';
import { tumblingWindowOf } from './tumbling.js';
import type { Window } from './window.js';
import type { WindowDefinition } from './window-definition.js';

export interface Lateness {
  definition: string;
  /** How far the watermark had passed the close time of the (oldest) window the event missed. */
  byMs: number;
  /**
   * The starts of the tumbling or sliding windows it missed (a sliding event may miss its older windows
   * and count in newer ones): what `sluice late replay` applies it to. Absent for a session, which it
   * would have had to merge into.
   */
  windowStarts?: number[];
}

/** The tumbling or sliding windows an event time falls in, oldest first. */
export function windowsOf(definition: WindowDefinition, eventTimeMs: number): Window[] {
  return definition.type === 'tumbling'
    ? [tumblingWindowOf(eventTimeMs, definition.sizeMs)]
    : slidingWindowsOf(eventTimeMs, definition.sizeMs, definition.advanceMs);
}

/** The window fired (the watermark passed its end + grace): only a window kept for its lateness takes more. */
export function hasFired(definition: WindowDefinition, window: Window, watermark: number): boolean {
  return window.end + definition.graceMs <= watermark;
}

/** Fired, and past its allowed lateness too: the event is late for it. */
export function isMissed(definition: WindowDefinition, window: Window, watermark: number): boolean {
  return window.end + definition.graceMs + definition.allowedLatenessMs <= watermark;
}

/** A session's event is late once the watermark is past its time + grace (sessions have no lateness). */
export function sessionCloseBy(definition: WindowDefinition, watermark: number): number {
  return watermark - definition.graceMs;
}

export interface EventLateness {
  /** Where the event was late (as the engine reports it, for the late-events topic). */
  late: Lateness[];
  /**
   * The windows it may still enter, as `sluice.only.windows` refs: a definition's name when every window
   * of it is open to the event, else `name@start` per open window; a definition missed whole is absent.
   */
  admitted: string[];
}

/** The event against `definitions` at `watermark` (the watermark before the event). */
export function lateness(
  definitions: readonly WindowDefinition[],
  eventTimeMs: number,
  watermark: number,
): EventLateness {
  const result: EventLateness = { late: [], admitted: [] };
  for (const definition of definitions) {
    if (definition.type === 'session') {
      const closesBy = sessionCloseBy(definition, watermark);
      if (eventTimeMs < closesBy)
        result.late.push({ definition: definition.name, byMs: closesBy - eventTimeMs });
      else result.admitted.push(definition.name);
      continue;
    }
    const windows = windowsOf(definition, eventTimeMs);
    const missed = windows.filter((w) => isMissed(definition, w, watermark));
    if (missed.length === 0) {
      result.admitted.push(definition.name);
      continue;
    }
    result.late.push({
      definition: definition.name,
      byMs: watermark - (missed[0]!.end + definition.graceMs),
      windowStarts: missed.map((w) => w.start),
    });
    for (const w of windows) if (!missed.includes(w)) result.admitted.push(`${definition.name}@${w.start}`);
  }
  return result;
}
