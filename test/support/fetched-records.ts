// Outgoing records as a reader gets them back: what kafkajs hands a consumer (bytes for the key, value
// and headers, at an offset), and a record as text, the way the re-keyed side reads it.
import type { FetchedRecord } from '../../src/source/fetched-record.js';
import type { OutgoingRecord } from '../../src/source/outgoing-record.js';

export function fetchedOf(record: OutgoingRecord, offset: number): FetchedRecord {
  const bytes = (data: Buffer | string | null | undefined) =>
    data === null || data === undefined ? null : Buffer.from(data);
  const headers: FetchedRecord['headers'] = {};
  for (const [name, value] of Object.entries(record.headers ?? {}))
    headers[name] = Buffer.from(value as string);
  return {
    offset: String(offset),
    timestamp: '1',
    key: bytes(record.key),
    value: bytes(record.value),
    headers,
  };
}

export function readableOf(record: OutgoingRecord | FetchedRecord) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) headers[name] = String(value);
  return {
    key: record.key?.toString() ?? null,
    value: record.value?.toString() ?? null,
    headers,
  };
}
