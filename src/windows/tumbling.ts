// Tumbling windows: fixed, non-overlapping, aligned to the epoch; every event time falls in exactly one.
import { mod, type Window } from './window.js';

export function tumblingWindowOf(eventTimeMs: number, sizeMs: number): Window {
  const start = eventTimeMs - mod(eventTimeMs, sizeMs);
  return { start, end: start + sizeMs };
}
