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
