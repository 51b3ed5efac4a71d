// Session windows: each event spans [t, t + gap); a key's sessions are the unions of overlapping spans,
// so events less than `gap` apart share a session and an out-of-order event can bridge (merge) two.
import type { Window } from './window.js';

export function sessionSpanOf(eventTimeMs: number, gapMs: number): Window {
  return { start: eventTimeMs, end: eventTimeMs + gapMs };
}

export function overlaps(a: Window, b: Window): boolean {
  return a.start < b.end && b.start < a.end;
}

export function cover(a: Window, b: Window): Window {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}
