// The ClickHouse classifier against the client's own errors: ClickHouseError instances made by its
// parseError from server answers (a current server's, with the type name, and 18.16's, without), and
// Node's network errors. No server.
import { ClickHouseError, parseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import {
  clickHouseErrorCode,
  clickHouseErrorText,
  clickHouseFault,
  isClickHouseAuthentication,
  isClickHouseMissingTable,
  isClickHouseRejection,
  isNetworkError,
} from '../../../src/sinks/clickhouse-errors.js';

/** An answer of a current server, as the client receives it. */
const current = (code: number, type: string, text: string) =>
  parseError(`Code: ${code}. DB::Exception: ${text}. (${type}) (version 24.8.4.13 (official build))\n`);

/** An answer of ClickHouse 18.16: no type name, so the client leaves it a plain Error. */
const old = (code: number, text: string) =>
  parseError(`Code: ${code}, e.displayText() = DB::Exception: ${text}, e.what() = DB::Exception\n`);

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:8123`), { code });
}

describe('ClickHouse error classification', () => {
  it("reads the server's code from a ClickHouseError, and from an older server's plain answer", () => {
    const typed = current(53, 'TYPE_MISMATCH', 'Type mismatch in VALUES section');
    expect(typed).toBeInstanceOf(ClickHouseError);
    expect(clickHouseErrorCode(typed)).toBe(53);
    const plain = old(53, 'Type mismatch in VALUES section');
    expect(plain).not.toBeInstanceOf(ClickHouseError);
    expect(clickHouseErrorCode(plain)).toBe(53);
    expect(clickHouseErrorCode(networkError('ECONNREFUSED'))).toBeUndefined();
    expect(clickHouseErrorCode('Code: 53')).toBeUndefined();
  });

  it("words every server's error with its code first, for dead letters and logs", () => {
    const typed = current(27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', "Cannot parse input: expected '\"'");
    expect(clickHouseErrorText(typed)).toBe(
      `Code: 27. DB::Exception: ${typed.message} (CANNOT_PARSE_INPUT_ASSERTION_FAILED)`,
    );
    const plain = old(27, "Cannot parse input: expected '\"'");
    expect(clickHouseErrorText(plain)).toBe(plain.message);
    expect(clickHouseErrorText(plain)).toMatch(/^Code: 27, /);
    expect(clickHouseErrorText(networkError('ECONNREFUSED'))).toBe('connect ECONNREFUSED 127.0.0.1:8123');
  });

  it("blames the rows for parse and type errors, whichever server's form", () => {
    for (const error of [
      current(27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'Cannot parse input: expected , before: x'),
      current(53, 'TYPE_MISMATCH', 'Type mismatch'),
      old(6, 'Cannot parse text'),
      old(16, 'No such column bogus in table db.t'),
    ]) {
      expect(clickHouseFault(error), error.message).toBe('rejected');
      expect(isClickHouseRejection(error)).toBe(true);
    }
    // A server that names the type but sends a code this table does not list is judged by the type.
    const byType = new ClickHouseError({ message: 'Type mismatch', code: '99999', type: 'TYPE_MISMATCH' });
    expect(isClickHouseRejection(byType)).toBe(true);
  });

  it('knows refused credentials by code: 192/193 up to 20.x, 516 since', () => {
    const refused = [
      current(516, 'AUTHENTICATION_FAILED', 'default: Authentication failed: password is incorrect'),
      old(192, 'Unknown user sluice'),
      old(193, 'Wrong password for user sluice'),
    ];
    for (const error of refused) {
      expect(isClickHouseAuthentication(error), error.message).toBe(true);
    }
    expect(isClickHouseAuthentication(new Error('Authentication failed'))).toBe(false);
  });

  it('knows a table dropped under us, which is created again and retried', () => {
    for (const error of [
      current(60, 'UNKNOWN_TABLE', "Table db.t doesn't exist"),
      old(60, "Table db.t doesn't exist."),
    ]) {
      expect(isClickHouseMissingTable(error)).toBe(true);
      expect(isClickHouseRejection(error)).toBe(false);
    }
  });

  it('takes network failures, overload and anything it does not know for an unavailable server', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']) {
      const error = networkError(code);
      expect(isNetworkError(error)).toBe(true);
      expect(clickHouseFault(error)).toBe('unavailable');
    }
    for (const error of [
      current(241, 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (total) exceeded'),
      current(252, 'TOO_MANY_PARTS', 'Too many parts'),
      old(202, 'Too many simultaneous queries'),
      new Error('Timeout error.'),
      'not even an error',
    ]) {
      expect(clickHouseFault(error)).toBe('unavailable');
    }
    expect(isNetworkError(new Error('ECONNREFUSED'))).toBe(false);
  });
});
