/**
 * Review 18, R18-3 and R18-4: CSV text cells read as numbers by numericColumn / completeRows.
 *
 * R18-3: an integer cell beyond ±(2^53 − 1) ("9007199254740993", a 19-digit ID or a count in
 * cents) is rounded by `Number()` and summed with no error; pandas reads it as an exact int64,
 * and the Parquet reader refuses the same value (INT64 beyond 2^53). Expected: the same refusal.
 *
 * R18-4: `Number()` reads JavaScript literals that are not decimal numbers: "0x10" is 16, "0b11"
 * is 3, "0o17" is 15; pandas reads such a column as text and refuses to sum it. Expected:
 * "is not a number".
 */
import { MAX_CSV_COLUMNS, completeRows, numericColumn, parseCsv, toColumnTable } from '../../src/vantage6';
import { ErrorCode, ValueError } from '../../src/errors';

function refusal(csv: string, column = 'x'): ValueError | undefined {
  for (const read of [() => numericColumn(parseCsv(csv), column), () => numericColumn(toColumnTable(parseCsv(csv)), column), () => completeRows(parseCsv(csv), [column])]) {
    try {
      read();
    } catch (err) {
      expect(err).toBeInstanceOf(ValueError);
      expect((err as ValueError).code).toBe(ErrorCode.VALUE_INVALID);
      continue;
    }
    return undefined;
  }
  let last: ValueError | undefined;
  try {
    numericColumn(parseCsv(csv), column);
  } catch (err) {
    last = err as ValueError;
  }
  return last;
}

describe('R18-3: an integer beyond 2^53 in a CSV cell is refused, not rounded', () => {
  for (const cell of ['9007199254740993', '-9007199254740993', '12345678901234567890', '+9007199254740993', '9007199254740992']) {
    it(cell, () => {
      const err = refusal(`x\n1\n${cell}\n`);
      expect(err).toBeDefined();
      expect(err!.message).toMatch(/data row 2/);
      expect(err!.message).not.toContain(cell.replace(/^[+-]/, ''));
    });
  }
  it('the largest exact integers and decimal or exponent forms are still read', () => {
    const { values } = numericColumn(parseCsv('x\n9007199254740991\n-9007199254740991\n1e20\n12345678901234567890.5\n1.5E3\n'), 'x');
    expect(values).toEqual([9007199254740991, -9007199254740991, 1e20, 12345678901234567890.5, 1500]);
  });
});

describe('R18-4: JavaScript-only number literals are not numbers', () => {
  for (const cell of ['0x10', '0X1F', '0b11', '0o17', '-0x10', '0x']) {
    it(cell, () => {
      const err = refusal(`x\n1\n${cell}\n`);
      expect(err).toBeDefined();
      expect(err!.message).toMatch(/data row 2.*not a number/);
    });
  }
  it('decimal forms pandas reads are still numbers', () => {
    const { values } = numericColumn(parseCsv('x\n.5\n5.\n+3\n-0\n007\n1e-3\n-2.5E+2\n3\n'), 'x');
    expect(values).toEqual([0.5, 5, 3, -0, 7, 0.001, -250, 3]);
  });
});

test('a record of MAX_CSV_COLUMNS + 1 cells is refused, as more are (the cap was checked at separators only: off by one)', () => {
  const row = (k: number): string => Array.from({ length: k }, (_, i) => `c${i}`).join(',');
  expect(() => parseCsv(`${row(MAX_CSV_COLUMNS)}\n${row(MAX_CSV_COLUMNS)}\n`)).not.toThrow();
  expect(() => parseCsv(`${row(MAX_CSV_COLUMNS + 1)}\n`)).toThrow(expect.objectContaining({ code: ErrorCode.VALUE_INVALID }));
  expect(() => parseCsv(`${row(MAX_CSV_COLUMNS + 1)}`)).toThrow(expect.objectContaining({ code: ErrorCode.VALUE_INVALID }));
});
