// The backpressure decision of one partition, from how full its buffer is. Pause-upstream pauses at
// the high-water mark (the bounds) and resumes below the low-water mark, so it does not flap; the
// shedding strategies never pause and instead shed the oldest buffered records while over a bound.
// Pure: fill levels in, decisions out.
import type { BackpressureConfig } from '../config/schema.js';

export interface BufferFill {
  records: number;
  bytes: number;
}

export type BackpressureAction = 'pause' | 'resume' | 'shed' | 'none';

export class BackpressureController {
  private paused = false;

  constructor(
    private readonly config: Pick<
      BackpressureConfig,
      'strategy' | 'maxBufferSize' | 'maxBufferBytes' | 'lowWaterMark'
    >,
  ) {}

  /**
   * Whether one more record of `bytes` fits, counting as `records` (a pack of re-keyed events counts as
   * the events it holds); an empty buffer always takes one, however large.
   */
  fits(fill: BufferFill, bytes: number, records = 1): boolean {
    if (fill.records === 0) return true;
    return (
      fill.records + records <= this.config.maxBufferSize && fill.bytes + bytes <= this.config.maxBufferBytes
    );
  }

  private over(fill: BufferFill): boolean {
    return fill.records > this.config.maxBufferSize || fill.bytes > this.config.maxBufferBytes;
  }

  private full(fill: BufferFill): boolean {
    return fill.records >= this.config.maxBufferSize || fill.bytes >= this.config.maxBufferBytes;
  }

  private belowLowWater(fill: BufferFill): boolean {
    const low = this.config.lowWaterMark;
    return fill.records <= this.config.maxBufferSize * low && fill.bytes <= this.config.maxBufferBytes * low;
  }

  /** The buffer refused a record: the partition is paused until it drains below the low-water mark. */
  hold(): void {
    if (this.config.strategy === 'pause-upstream') this.paused = true;
  }

  /** What to do now; `pause` and `resume` are returned once per transition. */
  decide(fill: BufferFill): BackpressureAction {
    if (this.config.strategy !== 'pause-upstream') return this.over(fill) ? 'shed' : 'none';
    if (!this.paused && this.full(fill)) {
      this.paused = true;
      return 'pause';
    }
    if (this.paused && this.belowLowWater(fill)) {
      this.paused = false;
      return 'resume';
    }
    return 'none';
  }
}
