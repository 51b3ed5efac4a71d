// kafkajs 2.2.4 encodes every record it produces in fresh Encoders, one for the record and one per
// header, and each starts with `Buffer.alloc(512)`: zero-filled, outside Node's buffer pool, a new
// ArrayBuffer for the garbage collector to track. A re-keyed event (four headers) took six of them:
// in a profile of the simple bench pipeline, encoding produce requests was 27 % of the process's CPU,
// Buffer allocation 9 % and garbage collection 13 %.
//
// This makes an Encoder start empty and grow with `Buffer.allocUnsafe` (pooled for small sizes, not
// zero-filled). Safe because an Encoder only ever hands out what it wrote: every write lands at its
// offset and advances it, `buffer` is the slice up to the offset, and no kafkajs code reads `buf`
// beyond it. The bytes produced are the same (test/unit/source/kafkajs-encoder.test.ts).
//
// Order-independent like kafkajs-fix.ts: the constructor cannot be replaced in modules that already
// hold the class, so it is reached through what it calls, `Encoder.nextPowerOfTwo(initialSize)`, and
// every other growth goes through `ensureAvailable`, a prototype method.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface EncoderClass {
  nextPowerOfTwo(value: number): number;
  prototype: { ensureAvailable(this: EncoderState, length: number): void };
  [PATCHED]?: true;
}

interface EncoderState {
  buf: Buffer;
  offset: number;
}

const PATCHED = Symbol.for('sluice.encoderPooled');
/** The constructor's default initial size: kafkajs never passes another. */
const DEFAULT_INITIAL_SIZE = 511;
/** The first growth's least size: most headers fit, and a record grows a few times at most. */
const FIRST_SIZE = 64;

const powerOfTwoAbove = (value: number) => 1 << (32 - Math.clz32(value));

function install(): boolean {
  try {
    const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
    if (Encoder[PATCHED]) return true;
    const nextPowerOfTwo = Encoder.nextPowerOfTwo.bind(Encoder);
    // Only the constructor asks for the default initial size: it gets an empty buffer (no allocation
    // worth the name); the first write grows it from the pool.
    Encoder.nextPowerOfTwo = (value) => (value === DEFAULT_INITIAL_SIZE ? 0 : nextPowerOfTwo(value));
    Encoder.prototype.ensureAvailable = function ensureAvailable(length) {
      const needed = this.offset + length;
      if (needed <= this.buf.length) return;
      const grown = Buffer.allocUnsafe(Math.max(FIRST_SIZE, powerOfTwoAbove(needed)));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    };
    Encoder[PATCHED] = true;
    return true;
  } catch {
    // Another kafkajs than the one this was written for: left as it is (slower, as correct).
    return false;
  }
}

/** True once kafkajs' Encoder allocates from the pool. */
export const encoderPooled: boolean = install();
