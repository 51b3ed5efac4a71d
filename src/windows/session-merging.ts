// Adding an event to its key's session: a new session, one extended, or several that the event's span
// bridges merged into one. The superseding rule: every session a merge replaces under another identity
// gets a row that outranks every version that identity had, so no stale row of it survives in
// ClickHouse, even one written before a crash that the restored state predates.
import type { AddOutcome } from './key-cap.js';
import { cover, overlaps, sessionSpanOf } from './session.js';
import type { WindowDefinition } from './window-definition.js';
import { resultOf, versionOf, type WindowResult } from './window-result.js';
import type { OpenWindow, WindowStore } from './window-store.js';

const NOTHING_REPLACED: WindowResult[] = [];

/** Returns the rows of the sessions a merge replaced (empty when none was). */
export function addToSession(
  store: WindowStore,
  definition: WindowDefinition,
  eventTimeMs: number,
  key: readonly string[],
  keyId: string,
  event: unknown,
  offset: number,
): { outcome: AddOutcome; replaced: WindowResult[] } {
  const span = sessionSpanOf(eventTimeMs, definition.gapMs);
  const existing = store.sessionsOf(definition, keyId);
  const touching = existing?.filter((s) => overlaps(s.window, span)) ?? [];
  // The common case: the event falls in or extends the end of its key's one session. Extended in
  // place, its identity (which ends with its start) unchanged: no merge, no copy, nothing replaced.
  if (touching.length === 1) {
    const only = touching[0]!;
    const covered = cover(only.window, span);
    if (covered.start === only.window.start) {
      if (covered.end !== only.window.end) store.extendSession(only, covered);
      store.absorb(only, event, offset);
      return { outcome: 'added', replaced: NOTHING_REPLACED };
    }
  }
  if (touching.length === 0) {
    if (store.sessionCount(definition) >= definition.maxKeys)
      return { outcome: 'dropped', replaced: NOTHING_REPLACED };
    store.absorb(store.openSession(definition, span, key, offset), event, offset);
    return { outcome: 'added', replaced: NOTHING_REPLACED };
  }
  const covered = touching.reduce((w, s) => cover(w, s.window), span);
  // The merged sessions go (their counts with them); the merged one counts once.
  const merged = store.openSession(definition, covered, key, offset);
  for (const old of touching) store.merge(merged, old);
  store.absorb(merged, event, offset);
  return { outcome: 'added', replaced: supersededBy(merged, touching) };
}

/**
 * Every replaced identity gets a superseding row, written or not as far as this process knows. It
 * outranks every version the old identity had, as the merged session holds more records.
 */
function supersededBy(merged: OpenWindow, replaced: readonly OpenWindow[]): WindowResult[] {
  return replaced
    .filter((old) => old.window.start !== merged.window.start)
    .map((old) => ({ ...resultOf(old, 'superseded'), version: versionOf(merged.count, true) }));
}
