// What a ClickHouse failure means for Sluice, decided from what @clickhouse/client gives: the server's
// error code and type (ClickHouseError) or Node's network error code. Rows the server refuses as data
// are the rows' fault (dead-lettered, never retried); refused credentials are the operator's; a table
// dropped under us is created again; anything else (network, overload, a restart, a timeout) passes.
import { ClickHouseError } from '@clickhouse/client';
import { messageOf } from '../errors.js';

export type ClickHouseFault =
  /** The rows themselves (parse and type errors, unknown fields): the same rows would be refused again. */
  | 'rejected'
  /** The credentials: retrying the same ones cannot help. */
  | 'authentication'
  /** The table (or its database) does not exist: create it, then try again. */
  | 'missing-table'
  /** The server could not be reached or could not do it now: try again. */
  | 'unavailable';

/** Server error codes by fault, with the type name a current server sends beside the code. */
const FAULTS: Record<Exclude<ClickHouseFault, 'unavailable'>, Record<number, string>> = {
  rejected: {
    6: 'CANNOT_PARSE_TEXT',
    16: 'NO_SUCH_COLUMN_IN_TABLE',
    26: 'CANNOT_PARSE_QUOTED_STRING',
    27: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
    32: 'ATTEMPT_TO_READ_AFTER_EOF',
    38: 'CANNOT_PARSE_DATE',
    41: 'CANNOT_PARSE_DATETIME',
    53: 'TYPE_MISMATCH',
    69: 'ARGUMENT_OUT_OF_BOUND',
    70: 'CANNOT_CONVERT_TYPE',
    72: 'CANNOT_PARSE_NUMBER',
    117: 'INCORRECT_DATA',
    130: 'CANNOT_READ_ARRAY_FROM_TEXT',
    131: 'TOO_LARGE_STRING_SIZE',
    321: 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  },
  // 192/193 up to 20.x, 516 since.
  authentication: { 192: 'UNKNOWN_USER', 193: 'WRONG_PASSWORD', 516: 'AUTHENTICATION_FAILED' },
  'missing-table': { 60: 'UNKNOWN_TABLE' },
};

const BY_CODE = new Map<number, ClickHouseFault>();
const BY_TYPE = new Map<string, ClickHouseFault>();
for (const [fault, codes] of Object.entries(FAULTS) as [ClickHouseFault, Record<number, string>][])
  for (const [code, type] of Object.entries(codes)) {
    BY_CODE.set(Number(code), fault);
    BY_TYPE.set(type, fault);
  }

/** Node's codes for a connection that failed or broke: the server is (for now) out of reach. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * The server's error code. The client parses it into a ClickHouseError only when the answer ends with
 * the error's type name, which servers before 21.x (18.16 among them) do not send: their answers reach
 * us as a plain Error whose message carries "Code: N", so that is read as the fallback.
 */
export function clickHouseErrorCode(error: unknown): number | undefined {
  if (error instanceof ClickHouseError) {
    const code = Number(error.code);
    if (Number.isInteger(code)) return code;
  }
  if (!(error instanceof Error)) return undefined;
  const match = /\bCode: (\d+)/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}

/**
 * The server's error as one line of text, its code first as every server release words it
 * (`Code: 27. …`): a current server's answer reaches us parsed, the code and type beside the message,
 * an 18.16 server's as the whole text. Dead letters and logs carry this.
 */
export function clickHouseErrorText(error: unknown): string {
  if (!(error instanceof ClickHouseError) || /\bCode: \d+/.test(error.message)) return messageOf(error);
  return `Code: ${error.code}. DB::Exception: ${error.message}${error.type ? ` (${error.type})` : ''}`;
}

/** A Node network failure (refused, reset, timed out, no such host), before any answer of the server. */
export function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

export function clickHouseFault(error: unknown): ClickHouseFault {
  if (isNetworkError(error)) return 'unavailable';
  const code = clickHouseErrorCode(error);
  const byCode = code === undefined ? undefined : BY_CODE.get(code);
  if (byCode) return byCode;
  if (error instanceof ClickHouseError) return BY_TYPE.get(error.type ?? '') ?? 'unavailable';
  return 'unavailable';
}

/** The server refused the rows themselves: dead-letter them rather than retry. */
export function isClickHouseRejection(error: unknown): boolean {
  return clickHouseFault(error) === 'rejected';
}

/** The server refused our user or password. */
export function isClickHouseAuthentication(error: unknown): boolean {
  return clickHouseFault(error) === 'authentication';
}

/** The table is gone (dropped under us): create it again before the next attempt. */
export function isClickHouseMissingTable(error: unknown): boolean {
  return clickHouseFault(error) === 'missing-table';
}
