// A transaction's records in requests the broker takes: one partition's records in a request are one
// batch, and a batch is held to the topic's max.message.bytes (1 MiB by default).
import type { OutgoingRecord } from './outgoing-record.js';

/**
 * Requests of at most this many records and (but for a record bigger alone) this many bytes of keys and
 * values, so one commit of many windows stays under the broker's size limits (a partition's records in a
 * request are one batch, and a batch is held to the topic's max.message.bytes, 1 MiB by default).
 */
const CHUNK = 500;
const CHUNK_BYTES = 512 * 1024;

const sizeOf = (data: Buffer | string | null | undefined) =>
  data === null || data === undefined ? 0 : typeof data === 'string' ? data.length : data.byteLength;

export function chunks(records: readonly OutgoingRecord[]): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let chunk: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = sizeOf(record.key) + sizeOf(record.value);
    if (chunk.length > 0 && (chunk.length >= CHUNK || bytes + size > CHUNK_BYTES)) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}
