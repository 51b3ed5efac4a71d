// A window is a half-open interval of event time [start, end) in epoch milliseconds.

export interface Window {
  readonly start: number;
  readonly end: number;
}

/** Modulo that is never negative, so times before 1970 align like any other. */
export function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}
