// Sliding (hopping) windows: fixed size, starting every `advance`, aligned to the epoch, so an event
// belongs to size / advance overlapping windows.
import { mod, type Window } from './window.js';

/** The windows containing `eventTimeMs`, oldest first. */
export function slidingWindowsOf(eventTimeMs: number, sizeMs: number, advanceMs: number): Window[] {
  const lastStart = eventTimeMs - mod(eventTimeMs, advanceMs);
  const windows: Window[] = [];
  for (let start = lastStart; start > eventTimeMs - sizeMs; start -= advanceMs)
    windows.push({ start, end: start + sizeMs });
  return windows.reverse();
}
