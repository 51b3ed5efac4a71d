// The partition of a keyed record: murmur2 (seed 0x9747b28c) of the key's UTF-8 bytes, made positive
// (the sign bit cleared), modulo the topic's partition count. That is what Kafka's Java producer and
// kafkajs' default partitioner do, so a key lands where it always did: in the repartition topic, across
// Sluice versions and members mid-upgrade; in an output topic, where a Java reader expects it.
//
// Written here rather than called from kafkajs because kafkajs computes the 32-bit hash with 64-bit
// BigInt Long objects, about fifteen of them per key, and re-keying hashes every event once per group
// key: in an allocation profile of the bench's full job, kafkajs' murmur2 and its Long made an eighth of
// everything the process allocated. This works on 32-bit integers (Math.imul), as the Java original does,
// and reads a string's bytes through one reused buffer. Pure.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of `length` bytes of `data` (a signed 32-bit integer). */
export function murmur2(data: Uint8Array, length: number = data.length): number {
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last one to three bytes, as the Java original's switch falls through.
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16;
    if (rest >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

/** Holds a string key's UTF-8 bytes while they are hashed; grown for a longer key. */
let scratch = Buffer.allocUnsafe(1024);

/** The partition, of `partitions`, that a record with this key goes to. */
export function keyPartition(key: string | Buffer, partitions: number): number {
  let hash: number;
  if (typeof key === 'string') {
    // Up to three bytes per UTF-16 unit: enough room is known without measuring the string first.
    if (key.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(key.length * 3);
    hash = murmur2(scratch, scratch.write(key, 0, 'utf8'));
  } else hash = murmur2(key);
  return (hash & 0x7fffffff) % partitions;
}
