import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CouplerError, ErrorCode, InvalidArgumentError, ValueError, Vantage6Error } from '../../src/errors';
import { databaseFile, numericColumn, parseCsv, readCsvFile } from '../../src/vantage6/data';
import type { DatabaseConfig } from '../../src/vantage6/env';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof CouplerError ? e.code : `not a CouplerError: ${String(e)}`;
  }
  return undefined;
};

describe('parseCsv', () => {
  it('reads header and rows, trimming cells, skipping blank lines, CRLF and a BOM', () => {
    const t = parseCsv('\uFEFFid, age ,name\r\n1, 40 ,ann\r\n\r\n2,50,bob\n');
    expect(t.columns).toEqual(['id', 'age', 'name']);
    expect(t.rows).toEqual([
      ['1', '40', 'ann'],
      ['2', '50', 'bob'],
    ]);
  });

  it('handles quoted fields with separators, quotes and line breaks', () => {
    const t = parseCsv('a,b\n"x, y","say ""hi"""\n"multi\nline",2\n');
    expect(t.rows).toEqual([
      ['x, y', 'say "hi"'],
      ['multi\nline', '2'],
    ]);
  });

  it('supports another separator', () => {
    expect(parseCsv('a;b\n1;2', { separator: ';' }).rows).toEqual([['1', '2']]);
  });

  it('refuses broken CSV with typed errors naming the line, never the content', () => {
    const secret = 'patient-4711-secret';
    const cases = [
      '',
      '\n\n',
      'a,b\n1\n',
      `a,b\n"${secret},2\n`,
      'a,a\n1,2\n',
      'a,,c\n1,2,3\n',
      `a,b\n"${secret}"x,2\n`,
    ];
    for (const text of cases) {
      let err: unknown;
      try {
        parseCsv(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValueError);
      expect((err as ValueError).code).toBe(ErrorCode.VALUE_INVALID);
      expect((err as Error).message).not.toContain(secret);
    }
    expect(() => parseCsv('a,b\n1\n')).toThrow(/line 2: 1 cells, the header has 2/);
    expect(() => parseCsv('a\n1\n2\n3\n', { maxRows: 2 })).toThrow(ValueError);
  });

  it('keeps only the requested columns, in their order, still checking every row', () => {
    expect(parseCsv('a,b,c\n1,2,3\n4,5,6\n', { columns: ['c', 'a'] })).toEqual({ columns: ['c', 'a'], rows: [['3', '1'], ['6', '4']] });
    expect(() => parseCsv('a,b\n1,2\n', { columns: ['z'] })).toThrow(/the data has no column "z" \(columns: a, b\)/);
    expect(() => parseCsv('a,b\n1,2\n3\n', { columns: ['a'] })).toThrow(/line 3: 1 cells, the header has 2/);
    for (const bad of ['a', ['a', 'a'], [1]]) expect(() => parseCsv('a\n1\n', { columns: bad as never })).toThrow(InvalidArgumentError);
  });

  it('refuses hostile arguments with InvalidArgumentError', () => {
    for (const bad of [null, undefined, 1, {}, Buffer.from('a')]) expect(() => parseCsv(bad as never)).toThrow(InvalidArgumentError);
    for (const sep of ['', '"', '\n', ';;', 1]) expect(() => parseCsv('a', { separator: sep as never })).toThrow(InvalidArgumentError);
    expect(() => parseCsv('a', { maxRows: -1 })).toThrow(InvalidArgumentError);
  });

  it('round-trips arbitrary tables written by a standard CSV writer (property)', () => {
    const cell = fc.string({ maxLength: 12 });
    const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.array(cell, { minLength: 5, maxLength: 5 }), { maxLength: 8 }), (w, rows) => {
        const columns = Array.from({ length: w }, (_, i) => `c${i}`);
        const body = rows.map((r) => r.slice(0, w));
        const text = [columns.join(','), ...body.map((r) => r.map(quote).join(','))].join('\r\n');
        const t = parseCsv(text);
        expect(t.columns).toEqual(columns);
        expect(t.rows).toEqual(body);
      }),
      { numRuns: 300 },
    );
  });
});

describe('numericColumn', () => {
  const t = parseCsv('id,age\n1,40\n2,\n3,NA\n4,41.5\n5,-3e2\n');
  it('returns the numbers and counts missing cells', () => {
    expect(numericColumn(t, 'age')).toEqual({ values: [40, 41.5, -300], missing: 2 });
    expect(() => numericColumn(t, 'age', { missing: [''] })).toThrow(/data row 3: column "age" is not a number/); // NA is then a bad cell
  });
  it('refuses an unknown column listing the columns, and a non-number naming the row but not the cell', () => {
    expect(() => numericColumn(t, 'bmi')).toThrow(/no column "bmi" \(columns: id, age\)/);
    const bad = parseCsv('id,age\n1,forty-secret\n');
    let err: unknown;
    try {
      numericColumn(bad, 'age');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValueError);
    expect((err as Error).message).toMatch(/data row 1: column "age" is not a number/);
    expect((err as Error).message).not.toContain('forty');
    expect(code(() => numericColumn(parseCsv('x\nInfinity\n'), 'x'))).toBe(ErrorCode.VALUE_INVALID);
  });
  it('refuses hostile arguments', () => {
    for (const bad of [null, 1, {}, { columns: 'a', rows: [] }]) expect(() => numericColumn(bad as never, 'a')).toThrow(InvalidArgumentError);
    expect(() => numericColumn(t, 1 as never)).toThrow(InvalidArgumentError);
  });
});

describe('readCsvFile and databaseFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coupler-data-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file and refuses missing files, directories and files above the cap before reading them', async () => {
    const f = join(dir, 'a.csv');
    await writeFile(f, 'x,y\n1,2\n');
    expect((await readCsvFile(f)).rows).toEqual([['1', '2']]);
    await expect(readCsvFile(join(dir, 'nope.csv'))).rejects.toThrow(/cannot read the data file \(ENOENT\)/);
    await mkdir(join(dir, 'sub'));
    await expect(readCsvFile(join(dir, 'sub'))).rejects.toThrow(/not a regular file/);
    await expect(readCsvFile(f, { maxBytes: 4 })).rejects.toThrow(/more than the cap of 4/);
    await expect(readCsvFile('' as never)).rejects.toThrow(InvalidArgumentError);
  });

  it('finds the database file by label and type', () => {
    const db = (label: string, uri: string | undefined, type?: string): [string, DatabaseConfig] => [label, { label, uri, type, query: undefined } as DatabaseConfig];
    const ctx = { databases: new Map([db('default', '/data/a.csv', 'csv'), db('pq', '/data/b.parquet', 'parquet'), db('nouri', undefined, 'csv')]) };
    expect(databaseFile(ctx)).toBe('/data/a.csv');
    expect(databaseFile(ctx, 'pq', null)).toBe('/data/b.parquet');
    expect(() => databaseFile(ctx, 'pq')).toThrow(/of type parquet; expected csv/);
    expect(() => databaseFile(ctx, 'other')).toThrow(/no database labelled "other" \(the node gave: default, pq, nouri\)/);
    expect(() => databaseFile(ctx, 'nouri')).toThrow(Vantage6Error);
    expect(() => databaseFile({ databases: new Map() })).toThrow(/the node gave: none/);
    expect(() => databaseFile(null as never)).toThrow(InvalidArgumentError);
  });
});
