// The key cap of tumbling and sliding windows: a window start holds at most `maxKeys` keys; an event
// with a new key beyond that is dropped there, or aggregated under `__other__` (onKeyCap). Session
// windows cap open sessions per definition instead (session-merging.ts).
import type { Window } from './window.js';
import type { WindowDefinition } from './window-definition.js';
import { keyIdOf, OTHER_KEY, type WindowStore } from './window-store.js';

export type AddOutcome = 'added' | 'other' | 'dropped';

/** Adds an event to its tumbling or sliding window, within the key cap. */
export function addToWindow(
  store: WindowStore,
  definition: WindowDefinition,
  window: Window,
  key: readonly string[],
  keyId: string,
  event: unknown,
  offset: number,
): AddOutcome {
  let open = store.windowAt(definition, window, keyId);
  if (open) {
    store.absorb(open, event, offset);
    return 'added';
  }
  if (store.keysAt(definition, window) < definition.maxKeys) {
    store.absorb(store.openWindow(definition, window, key, offset, true), event, offset);
    return 'added';
  }
  if (definition.onKeyCap === 'drop') return 'dropped';
  const other = key.map(() => OTHER_KEY);
  open = store.windowAt(definition, window, keyIdOf(other));
  store.absorb(open ?? store.openWindow(definition, window, other, offset, false), event, offset);
  return 'other';
}
