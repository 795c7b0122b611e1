/**
 * review15 R15-1 — what a dispute of the aggregated opening makes an honest party hold.
 *
 * The dispute takes each opening in as it arrives (`OpeningDigest`) and keeps only the chunks that
 * a presented pieces statement of that party refers to, so that a receiver holds one L-vector of
 * sums, not every party's opening (n·8L bytes "which a cheater could make every honest party
 * allocate by forcing a dispute", aggregate.ts). The chunks to keep are read from the presented
 * statements BEFORE their signatures are checked. A cheater that forces a dispute (here: a changed
 * chunk answer to everyone) and presents, unsigned, one "pieces statement" per party listing every
 * chunk makes every honest party keep every chunk of every opening: n·8L bytes each (at L = 2^24,
 * n = 10: 1.3 GB) — before the verdict rejects the forged statements.
 *
 * Allocations are counted deterministically: `Uint8Array` is wrapped for the run, and every
 * allocation of at least 1 KiB made inside `OpeningDigest` is summed.
 */
import { changeAnswer } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum } from '../../src/protocols';
import { AGGREGATE_STATEMENT } from '../../src/protocols/aggregate';
import { encodeMessage, type PlainData } from '../../src/wire/codec';
import { CouplerError } from '../../src/errors';
import type { Group } from '../../src/group/group';

const n = 4;
const L = 1 << 17; // one message per piece, answer and dispute opening; chunks of 2^15 elements (256 KiB)
const vec = (i: number): Float64Array => Float64Array.from({ length: L }, (_, j) => i + (j % 5));

/** Bytes allocated as Uint8Arrays of ≥ 1 KiB from inside OpeningDigest while `run` runs. */
async function countDigestBytes(run: () => Promise<unknown>): Promise<number> {
  const Orig = globalThis.Uint8Array;
  let bytes = 0;
  globalThis.Uint8Array = new Proxy(Orig, {
    construct(target, args, newTarget) {
      const made = Reflect.construct(target, args, newTarget) as Uint8Array;
      if (typeof args[0] === 'number' && made.byteLength >= 1024 && (new Error().stack ?? '').includes('OpeningDigest')) bytes += made.byteLength;
      return made;
    },
  });
  try {
    await run();
  } finally {
    globalThis.Uint8Array = Orig;
  }
  return bytes;
}

/** p3 as aggregator: a flipped first element in its (re-signed) answer to everyone — forces a dispute. With `forge`, its dispute evidence adds one unsigned pieces statement per party listing every chunk. */
function cheater(g: Group, forge: boolean): void {
  changeAnswer(g, L, g.peers, (send, peer, round, payload) => {
    if (forge && round.endsWith('/partial/dispute')) {
      const d = payload as { t: Uint8Array; m: Uint8Array; ev: PlainData[] };
      const items = Array.from({ length: n }, (_, c) => ({ c, h: new Uint8Array(32) }));
      const fakes = g.parties.map((p) => ({ sg: p, st: encodeMessage({ t: AGGREGATE_STATEMENT.pieces, items }), sig: new Uint8Array(64) }));
      return send(peer, round, { ...d, ev: [...fakes, ...d.ev] });
    }
    return send(peer, round, payload);
  });
}

async function disputeBytes(forge: boolean): Promise<{ bytes: number; codes: string[] }> {
  const c = await createTestGroups(n, { roundTimeoutMs: 6000 });
  try {
    cheater(c.byId.get('p3')!, forge);
    let out: Awaited<ReturnType<typeof settleAll>> = [];
    const bytes = await countDigestBytes(async () => {
      out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i))));
    });
    const codes = out.map((r, i) => (r.ok ? `${c.ids[i]}: ok` : `${c.ids[i]}: ${(r.error as CouplerError).code} [${(r.error as CouplerError).peers.join(',')}]`));
    return { bytes, codes };
  } finally {
    await c.close();
  }
}

test('R15-1 — forged, unsigned pieces statements in a dispute make no honest party keep chunks of the openings (before: every chunk of every opening, n·8L bytes each)', async () => {
  const plain = await disputeBytes(false);
  // The control: the dispute names p3 for its answer; nothing is kept (no pieces statement presented).
  expect(plain.codes.filter((x) => !x.startsWith('p3'))).toEqual(['p1: COUPLER_ERR_TAMPERING_DETECTED [p3]', 'p2: COUPLER_ERR_TAMPERING_DETECTED [p3]', 'p4: COUPLER_ERR_TAMPERING_DETECTED [p3]']);
  expect(plain.bytes).toBe(0);
  const forged = await disputeBytes(true);
  // The forged statements are caught by the verdict (PROTOCOL_VIOLATION naming p3, the documented
  // exit of a cheater presenting malformed evidence), but only after they were acted on.
  for (const x of forged.codes.filter((y) => !y.startsWith('p3'))) expect(x).toMatch(/\[p3\]$/);
  expect({ kept: forged.bytes, codes: forged.codes }).toEqual({ kept: 0, codes: forged.codes });
}, 60_000);
