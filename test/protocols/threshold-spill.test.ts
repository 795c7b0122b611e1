/**
 * thresholdSum of a long vector keeps the shares it receives in a spill (spill.ts) until the
 * dealer set is agreed, and adds them up as they arrive: the encrypted temporary file, forced
 * here on a two-piece vector by lowering `_spillPolicy.minElements`. In-process parties on
 * 127.0.0.1, real channels, real files in a directory of the test's own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { thresholdSum } from '../../src/protocols';
import { _spillPolicy, SPILL_MIN_ELEMENTS } from '../../src/protocols/threshold';
import { ShareSpill } from '../../src/protocols/spill';
import { PIECE_ELEMENTS } from '../../src/protocols/common';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../../src/errors';
import type { PlainData } from '../../src/wire/codec';
import { createTestGroups, quitAtDealPiece1, settleAll, type TestGroups } from '../support/group-harness';

jest.setTimeout(120_000);

/** Two pieces, the last one short. */
const L = PIECE_ELEMENTS + 12_345;
const inputsOf = (k: number): Float64Array[] => Array.from({ length: k }, (_, gi) => Float64Array.from({ length: L }, (_, j) => ((j * 5 + gi * 11) % 2001) / 2 - 500));
const sumOf = (xs: readonly Float64Array[]): Float64Array => Float64Array.from({ length: L }, (_, j) => xs.reduce((s, v) => s + v[j]!, 0));
const firstDiff = (a: Float64Array, b: Float64Array): number => a.findIndex((v, j) => v !== b[j]);

let dir: string;
let spills: ShareSpill[];
/** Each party's spill. */
let spillOf: Map<string, ShareSpill>;
/** Entries of `dir` seen right after each spill was created. */
let seenAtCreation: string[][];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-spill-test-'));
  spills = [];
  spillOf = new Map();
  seenAtCreation = [];
  _spillPolicy.minElements = 0;
  _spillPolicy.onSpill = (s, party) => {
    spills.push(s);
    spillOf.set(party, s);
    seenAtCreation.push(readdirSync(dir));
  };
});
afterEach(() => {
  _spillPolicy.minElements = SPILL_MIN_ELEMENTS;
  _spillPolicy.onSpill = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('thresholdSum with its shares spilled to an encrypted file', () => {
  let c: TestGroups;
  beforeEach(async () => {
    c = await createTestGroups(4, { roundTimeoutMs: 20_000 });
  });
  afterEach(() => c.close());

  test('every dealer: the exact sum; each party wrote its n share vectors to the file, read nothing back, and the file never had a name in the directory', async () => {
    const xs = inputsOf(4);
    const r = await Promise.all(c.groups.map((g, gi) => thresholdSum(g, xs[gi]!, { bound: 1e4, t: 2, spill: dir })));
    const want = sumOf(xs);
    for (const x of r) {
      expect(x.contributors).toEqual(c.ids);
      expect(firstDiff(x.sum, want)).toBe(-1);
    }
    expect(spills).toHaveLength(4);
    for (const s of spills) {
      const st = s.state;
      expect(st.closed).toBe(true);
      expect(st.fallback).toBeUndefined();
      // 4 dealers × 2 pieces, 8 bytes per element, 16-byte tag per piece.
      expect(st.bytesWritten).toBe(4 * (8 * L + 2 * 16));
      expect(st.piecesRead).toBe(0);
    }
    expect(seenAtCreation).toEqual([[], [], [], []]);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a dealer whose last piece reaches one party only, then vanishes: that party subtracts its whole share from the running sum (read back from the file), the others the piece they got; all get the exact sum of the other three', async () => {
    const xs = inputsOf(4);
    const quitter = c.groups[3]!;
    const send = quitter.send.bind(quitter);
    let closing: Promise<void> | undefined;
    quitter.send = (peer: string, round: string, payload: PlainData) => {
      if (!round.endsWith('/deal/p1')) return send(peer, round, payload);
      if (peer !== c.ids[0]) return Promise.reject(new Error('gone'));
      return send(peer, round, payload).then(() => {
        closing = new Promise((done) => setTimeout(() => void quitter.close().then(done), 200));
      });
    };
    const r = await settleAll(c.groups.map((g, gi) => thresholdSum(g, xs[gi]!, { bound: 1e4, t: 2, spill: dir })));
    await closing;
    const want = sumOf(xs.slice(0, 3));
    for (const gi of [0, 1, 2]) {
      expect(r[gi]).toMatchObject({ ok: true });
      const x = (r[gi] as { value: { sum: Float64Array; contributors: readonly string[] } }).value;
      expect(x.contributors).toEqual(c.ids.slice(0, 3));
      expect(firstDiff(x.sum, want)).toBe(-1);
    }
    // p0 held both pieces of p3's share, p1 and p2 its first one.
    expect(spills).toHaveLength(4);
    expect(spillOf.get(c.ids[0]!)!.state.piecesRead).toBe(2);
    expect(spillOf.get(c.ids[1]!)!.state.piecesRead).toBe(1);
    expect(spillOf.get(c.ids[2]!)!.state.piecesRead).toBe(1);
    for (const s of spills) expect(s.state.closed).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a run that fails after the deal (too few dealers for minContributors) closes its spill: nothing left in the directory', async () => {
    const xs = inputsOf(4);
    quitAtDealPiece1(c.groups[3]!);
    const r = await settleAll(c.groups.map((g, gi) => thresholdSum(g, xs[gi]!, { bound: 1e4, t: 2, minContributors: 4, spill: dir })));
    for (const gi of [0, 1, 2]) {
      expect(r[gi]!.ok).toBe(false);
      expect(((r[gi] as { error: CouplerError }).error).code).toBe(ErrorCode.TOO_FEW_PARTIES);
    }
    expect(spills.length).toBeGreaterThanOrEqual(3);
    for (const s of spills) {
      expect(s.state.closed).toBe(true);
      expect(s.state.bytesWritten).toBeGreaterThan(0);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a spill directory that cannot hold the file: a COUPLER_SPILL_FALLBACK warning, the shares kept in memory, the exact sum', async () => {
    const xs = inputsOf(4);
    // Watched, not replaced (jest's sandboxed process does not see 'warning' events; the child
    // process test below checks the real event).
    const warned = jest.spyOn(process, 'emitWarning');
    let r;
    let codes: (string | undefined)[];
    try {
      r = await Promise.all(c.groups.map((g, gi) => thresholdSum(g, xs[gi]!, { bound: 1e4, t: 2, spill: join(dir, 'missing') })));
      codes = warned.mock.calls.map((call) => (call[1] as { code?: string } | undefined)?.code);
    } finally {
      warned.mockRestore();
    }
    const want = sumOf(xs);
    for (const x of r) expect(firstDiff(x.sum, want)).toBe(-1);
    expect(codes.filter((w) => w === 'COUPLER_SPILL_FALLBACK')).toHaveLength(4);
    for (const s of spills) {
      expect(s.state.fallback).toMatch(/^cannot create a spill file in .*missing \(ENOENT\)$/);
      expect(s.state.bytesWritten).toBe(0);
    }
  });

  test('"spill" must be a directory path or false', async () => {
    await expect(thresholdSum(c.groups[0]!, inputsOf(1)[0]!, { t: 2, spill: 42 as unknown as string })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(thresholdSum(c.groups[0]!, inputsOf(1)[0]!, { t: 2, spill: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('ShareSpill', () => {
  /** The spill's open (unlinked) file, through this process's descriptors. */
  function openSpillFile(): string {
    const fds = readdirSync('/proc/self/fd').map((fd) => `/proc/self/fd/${fd}`);
    const mine = fds.filter((p) => {
      try {
        return readlinkSync(p).startsWith(join(dir, 'coupler-spill-'));
      } catch {
        return false;
      }
    });
    expect(mine).toHaveLength(1);
    expect(readlinkSync(mine[0]!)).toMatch(/ \(deleted\)$/);
    return mine[0]!;
  }

  test('pieces rest encrypted in an unlinked file and read back exactly; a changed record is refused (VALUE_INVALID); close forgets everything', () => {
    if (process.platform !== 'linux') return; // reads the unlinked file through /proc
    const spill = new ShareSpill(dir);
    const a = Uint8Array.from({ length: 4096 }, (_, j) => j & 0xff);
    const b = new Uint8Array(1000).fill(0x41);
    spill.put('p1', a);
    spill.put('p2', b);
    spill.put('p1', b);
    expect(readdirSync(dir)).toEqual([]);
    const file = openSpillFile();
    const raw = readFileSync(file);
    expect(raw.length).toBe(4096 + 1000 + 1000 + 3 * 16);
    expect(raw.includes(Buffer.from(a.subarray(0, 64)))).toBe(false);
    expect(raw.includes(Buffer.alloc(64, 0x41))).toBe(false);
    expect([spill.count('p1'), spill.count('p2'), spill.count('p3')]).toEqual([2, 1, 0]);
    expect(spill.read('p1', 0)).toEqual(a);
    expect(spill.read('p2', 0)).toEqual(b);
    expect(spill.read('p1', 1)).toEqual(b);
    // Flip one byte of the second record on disk: its tag no longer verifies.
    const changed = Buffer.from(raw);
    changed[4096 + 16 + 5]! ^= 1;
    writeFileSync(file, changed);
    let error: unknown;
    try {
      spill.read('p2', 0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CouplerError);
    expect((error as CouplerError).code).toBe(ErrorCode.VALUE_INVALID);
    expect(spill.read('p1', 0)).toEqual(a);
    spill.close();
    expect(spill.state).toMatchObject({ closed: true, onDisk: false });
    expect(readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(join(dir, 'coupler-spill-'));
      } catch {
        return false;
      }
    })).toEqual([]);
    expect(() => spill.put('p1', a)).toThrow(RangeError);
  });

  test('false keeps the pieces in memory: no file', () => {
    const spill = new ShareSpill(false);
    spill.put('p1', new Uint8Array([1, 2, 3]));
    expect(spill.read('p1', 0)).toEqual(new Uint8Array([1, 2, 3]));
    expect(spill.state).toMatchObject({ onDisk: false, bytesWritten: 0 });
    expect(spill.state.fallback).toBeUndefined();
    spill.close();
  });

  test('a write that fails (the file outgrows the process file size limit: EFBIG) falls back to memory with a warning; every piece still reads back', () => {
    if (process.platform !== 'linux') return; // ulimit -f in a shell
    const root = resolve(__dirname, '..', '..');
    const out = execFileSync('bash', ['-c', 'ulimit -f 1024 && exec "$0" --import tsx "$1" "$2"', process.execPath, resolve(__dirname, 'fixtures/spill-child.ts'), dir], { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { before: { onDisk: boolean }; after: { onDisk: boolean; bytesWritten: number; fallback?: string }; same: boolean[]; closed: { closed: boolean }; warnings: string[] };
    expect(r.before.onDisk).toBe(true);
    // 1 MiB limit: the first piece (512 KiB + tag) fits, the second would cross it.
    expect(r.after).toMatchObject({ onDisk: false, bytesWritten: 512 * 1024 + 16, fallback: 'cannot write the spill file (EFBIG)' });
    expect(r.same).toEqual([true, true, true, true]);
    expect(r.closed.closed).toBe(true);
    expect(r.warnings).toEqual(['COUPLER_SPILL_FALLBACK: thresholdSum: cannot write the spill file (EFBIG); keeping the received shares in memory instead']);
    expect(readdirSync(dir)).toEqual([]);
  });
});
