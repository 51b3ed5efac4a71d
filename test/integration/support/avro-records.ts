// Avro user events as producers write them, and the hostile records a parse stage must survive: the
// Confluent framing, events encoded with a schema version, and one record of each kind of bad input.
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import type { SampleEvent } from '../../../src/tools/produce/sample-events.js';

export const userEventV2 = JSON.parse(readFileSync('schemas/avro/user-event.avsc', 'utf8')) as object;
export const userEventV1 = JSON.parse(readFileSync('schemas/avro/user-event.v1.avsc', 'utf8')) as object;

/** The Confluent wire format: magic byte 0, the schema id (big-endian int32), the Avro body. */
export function framed(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

/** An event encoded with `type` (Avro has no absent fields: they are null). */
export function avroOf(event: SampleEvent, type: avsc.Type): Buffer {
  const fields = (type as avsc.Type & { fields: { name: string }[] }).fields.map((f) => f.name);
  const source = event as unknown as Record<string, unknown>;
  return type.toBuffer(Object.fromEntries(fields.map((name) => [name, source[name] ?? null])));
}

export const HOSTILE_KINDS = [
  'truncated-avro',
  'huge-length-prefix',
  'wrong-magic-byte',
  'unknown-schema-id',
  'invalid-json',
  'oversized',
  'wrong-types',
  'missing-event-time',
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/**
 * A hostile record of `kind`, built from a good encoded event. `ids` are registered schemas: the
 * current version, one whose timestamp is text (wrong types), one without a timestamp.
 */
export function hostileRecord(
  kind: HostileKind,
  good: Buffer,
  ids: { current: number; textTime: number; noTime: number },
  maxMessageBytes: number,
): Buffer {
  switch (kind) {
    case 'truncated-avro':
      return framed(ids.current, good.subarray(0, Math.max(1, good.length - 9)));
    case 'huge-length-prefix':
      // The last byte (the empty properties map) becomes a million-entry block count.
      return framed(
        ids.current,
        Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([0x80, 0x89, 0x7a])]),
      );
    case 'wrong-magic-byte':
      return Buffer.concat([Buffer.from([9]), framed(ids.current, good).subarray(1)]);
    case 'unknown-schema-id':
      return framed(987_654, good);
    case 'invalid-json':
      return Buffer.from('{"eventId": "x", "type": ');
    case 'oversized':
      return framed(ids.current, Buffer.alloc(maxMessageBytes + 1, 1));
    case 'wrong-types':
      return framed(
        ids.textTime,
        textTimeType.toBuffer({ eventId: 'x', type: 'click', userId: 'u', timestamp: 'yesterday' }),
      );
    case 'missing-event-time':
      return framed(ids.noTime, noTimeType.toBuffer({ eventId: 'x', type: 'click', userId: 'u' }));
  }
}

const base = [
  { name: 'eventId', type: 'string' },
  { name: 'type', type: 'string' },
  { name: 'userId', type: 'string' },
];
export const textTimeSchema = {
  type: 'record',
  name: 'UserEvent',
  namespace: 'dev.sluice.events',
  fields: [...base, { name: 'timestamp', type: 'string' }],
};
export const noTimeSchema = {
  type: 'record',
  name: 'UserEvent',
  namespace: 'dev.sluice.events',
  fields: base,
};
const textTimeType = avsc.Type.forSchema(textTimeSchema as avsc.Schema);
const noTimeType = avsc.Type.forSchema(noTimeSchema as avsc.Schema);
