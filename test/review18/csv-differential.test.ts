/**
 * Review 18: parseCsv against a reference writer, and numericColumn on CSV text against values
 * known by construction.
 *
 * Tables of random cells (separators, quotes, CR, LF, CRLF, spaces at the ends, non-ASCII, empty
 * cells) are written as RFC 4180 text — quoting every cell, or only where needed — with LF or CRLF
 * line ends, with or without a byte-order mark and a final line end; parseCsv must give back the
 * header and every cell. Numbers are written in the forms pandas reads (shortest decimal,
 * exponent with e/E and a signed or zero-padded exponent, a leading +, leading and trailing zeros,
 * -0), with NaN markers, infinities and integers beyond 2^53 among them; numericColumn must give
 * each value exactly, count the missing ones, and refuse the others naming the row.
 */
import fc from 'fast-check';
import { completeRows, numericColumn, parseCsv, toColumnTable } from '../../src/vantage6';
import { ErrorCode, ValueError } from '../../src/errors';

const CHARS = ['a', 'b', 'Z', '1', '0', '.', '-', ' ', '\t', ',', ';', '"', '\n', '\r', 'é', '€', '😀', '\u00a0', "'", '#'];
const cellText = fc.array(fc.constantFrom(...CHARS), { maxLength: 8 }).map((a) => a.join(''));

function write(header: string[], rows: string[][], o: { sep: string; eol: string; bom: boolean; finalEol: boolean; quoteAll: boolean }): string {
  const field = (cell: string, single: boolean): string => {
    const needs = o.quoteAll || cell.includes(o.sep) || cell.includes('"') || cell.includes('\n') || cell.includes('\r') || cell !== cell.trim() || (single && cell === '');
    return needs ? `"${cell.replaceAll('"', '""')}"` : cell;
  };
  const line = (cells: string[]): string => cells.map((c) => field(c, cells.length === 1)).join(o.sep);
  return (o.bom ? '\ufeff' : '') + [header, ...rows].map(line).join(o.eol) + (o.finalEol ? o.eol : '');
}

describe('parseCsv gives back what an RFC 4180 writer wrote', () => {
  test('random tables', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((width) =>
          fc.tuple(
            fc.uniqueArray(cellText.filter((s) => s.trim() !== ''), { minLength: width, maxLength: width }),
            fc.array(fc.array(cellText, { minLength: width, maxLength: width }), { maxLength: 12 }),
            fc.record({ sep: fc.constantFrom(',', ';', '\t', '|'), eol: fc.constantFrom('\n', '\r\n'), bom: fc.boolean(), finalEol: fc.boolean(), quoteAll: fc.boolean() }),
          ),
        ),
        ([header, rows, o]) => {
          // a tab separator: a cell's tab is then a separator, so quoted like one (the writer does this)
          const table = parseCsv(write(header, rows, o), { separator: o.sep });
          expect(table.columns).toEqual(header);
          expect(table.rows).toEqual(rows);
        },
      ),
      { numRuns: 1500, seed: 18_2026 },
    );
  });

  test('thousands of columns, CRLF, quoted line breaks', () => {
    const width = 5000;
    const header = Array.from({ length: width }, (_, i) => `c${i}`);
    const rows = [0, 1, 2].map((r) => header.map((_, i) => (i % 97 === 0 ? `x\r\n"${r}"` : i % 2 === 0 ? '' : String(i * r))));
    const table = parseCsv(write(header, rows, { sep: ',', eol: '\r\n', bom: true, finalEol: false, quoteAll: false }));
    expect(table.columns.length).toBe(width);
    expect(table.rows).toEqual(rows);
  });
});

type Cell = { text: string; value: number } | { text: string; missing: true } | { text: string; refused: RegExp };
/** A number written in a form pandas reads, with the value it denotes (an integer literal beyond 2^53 is refused: pandas reads it as an exact int64). */
const form = (text: string, value: number): Cell => (/^[+-]?\d+$/.test(text) && !Number.isSafeInteger(value) ? { text, refused: /beyond 2\^53/ } : { text, value });
const written: fc.Arbitrary<Cell> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)).chain((x) => // String(-0) is "0"; -0 is written below
    fc.constantFrom(
      form(String(x), x),
      form(x.toExponential(), x),
      form(x.toExponential().toUpperCase(), x),
      form(x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2'), x),
      form(x.toExponential().replace('e+', 'e'), x),
      form(Object.is(x, -0) || x < 0 ? String(x) : `+${String(x)}`, x),
      form(/^-?\d+\.\d+$/.test(String(x)) ? `${String(x)}000` : String(x), x),
      form(/^\d/.test(String(x)) ? `00${String(x)}` : String(x), x),
    ),
  ),
  fc.integer({ min: -1000, max: 1000 }).map((x) => form(String(x), x)),
  fc.bigInt({ min: -(2n ** 53n) + 1n, max: 2n ** 53n - 1n }).map((x) => form(x.toString(), Number(x))),
  fc.constant(form('-0', -0)),
  fc.constant(form('-0.0', -0)),
);
const cell: fc.Arbitrary<Cell> = fc.oneof(
  { arbitrary: written, weight: 12 },
  { arbitrary: fc.constantFrom('', 'NA', 'NaN', 'nan', 'null', 'NULL').map((text) => ({ text, missing: true as const })), weight: 2 },
  {
    arbitrary: fc.oneof(
      fc.constantFrom('inf', '-inf', 'Infinity', '-Infinity', '+inf', 'INF').map((text) => ({ text, refused: /is infinite/ })),
      fc.constantFrom('1e999', '-1e400').map((text) => ({ text, refused: /is infinite/ })),
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map((x) => ({ text: (x % 2n === 0n ? '-' : '') + x.toString(), refused: /beyond 2\^53/ })),
      fc.constantFrom('0x1A', '1_000', '1,5', '12abc', '--1', '1e', '.', '+', 'e5', '1.2.3').map((text) => ({ text, refused: /not a number/ })),
    ),
    weight: 1,
  },
);

describe('numericColumn reads CSV numbers exactly', () => {
  test('random columns', () => {
    fc.assert(
      fc.property(fc.array(cell, { minLength: 1, maxLength: 30 }), (cells) => {
        const csv = `id,x\n${cells.map((c, i) => `${i},${c.text.includes(',') ? `"${c.text}"` : c.text}`).join('\n')}\n`;
        const refused = cells.findIndex((c) => 'refused' in c);
        for (const table of [parseCsv(csv), toColumnTable(parseCsv(csv))]) {
          if (refused >= 0) {
            const want = (cells[refused] as { refused: RegExp }).refused;
            for (const read of [() => numericColumn(table, 'x'), () => completeRows(table, ['x'])]) {
              let err: unknown;
              try {
                read();
              } catch (e) {
                err = e;
              }
              expect(err).toBeInstanceOf(ValueError);
              expect((err as ValueError).code).toBe(ErrorCode.VALUE_INVALID);
              expect((err as Error).message).toMatch(new RegExp(`^data row ${refused + 1}: column "x" `));
              expect((err as Error).message).toMatch(want);
            }
            continue;
          }
          const present = cells.filter((c): c is { text: string; value: number } => 'value' in c);
          const { values, missing } = numericColumn(table, 'x');
          expect(missing).toBe(cells.length - present.length);
          const got = Array.from(values);
          present.forEach((c, i) => {
            if (!Object.is(got[i], c.value)) throw new Error(`"${c.text}" read as ${got[i]}, denotes ${c.value}`);
          });
        }
      }),
      { numRuns: 1500, seed: 18_2026 },
    );
  });
});
