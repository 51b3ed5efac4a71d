// HyperLogLog (Flajolet et al. 2007) over 32-bit MurmurHash3, with 2^12 registers: about 1.6 % standard
// error in 4 KiB, linear counting for small cardinalities, and mergeable (session windows merge).
// Written here because the registry's JavaScript HLLs either need a native addon or, measured, were
// 50 % low between 1,000 and 5,000 distinct values and merged wrongly (bloom-filters 3.0.4).
import murmurhash from 'murmurhash';
import { SluiceError } from '../errors.js';

const PRECISION = 12;
const REGISTERS = 1 << PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);
const TWO_32 = 2 ** 32;

export class HyperLogLog {
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    this.registers = registers ?? new Uint8Array(REGISTERS);
  }

  add(value: string): void {
    const hash = murmurhash.v3(value) >>> 0;
    const index = hash >>> (32 - PRECISION);
    const rest = (hash << PRECISION) >>> 0;
    // Position of the first 1 bit in the remaining 20 bits (1-based); all zeros counts as 21.
    const rank = rest === 0 ? 32 - PRECISION + 1 : Math.clz32(rest) + 1;
    if (rank > (this.registers[index] as number)) this.registers[index] = rank;
  }

  merge(other: HyperLogLog): void {
    for (let i = 0; i < REGISTERS; i += 1)
      if ((other.registers[i] as number) > (this.registers[i] as number))
        this.registers[i] = other.registers[i] as number;
  }

  estimate(): number {
    let sum = 0;
    let zeros = 0;
    for (const register of this.registers) {
      sum += 2 ** -register;
      if (register === 0) zeros += 1;
    }
    const raw = (ALPHA * REGISTERS * REGISTERS) / sum;
    if (raw <= 2.5 * REGISTERS && zeros > 0) return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
    if (raw > TWO_32 / 30) return Math.round(-TWO_32 * Math.log(1 - raw / TWO_32));
    return Math.round(raw);
  }

  toBase64(): string {
    return Buffer.from(this.registers).toString('base64');
  }

  static fromBase64(text: string): HyperLogLog {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length !== REGISTERS)
      throw new SluiceError(`HyperLogLog state of ${bytes.length} bytes, expected ${REGISTERS}`, {
        code: 'SLUICE_STATE_INVALID',
        retriable: false,
      });
    return new HyperLogLog(new Uint8Array(bytes));
  }

  static get bytes(): number {
    return REGISTERS;
  }
}
