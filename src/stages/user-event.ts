// The shape of a user event as Sluice reads it. Required fields are the ones every window and sink
// relies on; anything else a producer adds travels along untouched.
import { z } from 'zod';

export const userEventSchema = z.looseObject({
  eventId: z.string().min(1),
  type: z.string().min(1),
  userId: z.string().min(1),
  sessionId: z.string().optional(),
  url: z.string().optional(),
  referrer: z.string().optional(),
  userAgent: z.string().optional(),
  ip: z.string().optional(),
  country: z.string().optional(),
  value: z.number().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  properties: z.record(z.string(), z.string()).optional(),
});

export type UserEvent = z.infer<typeof userEventSchema>;

const OPTIONAL_TEXT = ['sessionId', 'url', 'referrer', 'userAgent', 'ip', 'country'] as const;

const isText = (value: unknown, required: boolean) =>
  value === undefined ? !required : typeof value === 'string' && (!required || value.length > 0);

/**
 * The common case without zod, which costs several per cent of a pipeline's time: true only when the
 * document certainly passes `userEventSchema` (a property test holds it to that), so zod runs only for
 * the rest, and its messages still name the field.
 */
export function isPlainValidEvent(document: unknown): document is UserEvent {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return false;
  const d = document as Record<string, unknown>;
  if (!isText(d.eventId, true) || !isText(d.type, true) || !isText(d.userId, true)) return false;
  for (const field of OPTIONAL_TEXT) if (!isText(d[field], false)) return false;
  if (d.value !== undefined && !(typeof d.value === 'number' && Number.isFinite(d.value))) return false;
  const t = d.timestamp;
  if (t !== undefined && typeof t !== 'string' && !(typeof t === 'number' && Number.isFinite(t)))
    return false;
  const p = d.properties;
  if (p !== undefined) {
    if (
      typeof p !== 'object' ||
      p === null ||
      Array.isArray(p) ||
      Object.getPrototypeOf(p) !== Object.prototype
    )
      return false;
    for (const value of Object.values(p)) if (typeof value !== 'string') return false;
  }
  return true;
}
