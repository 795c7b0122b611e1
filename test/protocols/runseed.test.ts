/**
 * The run seed (share graph of dkSecureSum, aggregator pairs of the aggregated opening) is a coin
 * toss of every party's committed contribution, not a function of the session id that one party
 * picks. In-process parties on 127.0.0.1, real channels.
 *
 * Before: runSeed = SHA-256(label, sessionId, runId), so whoever chose the session id chose the
 * share graph and the aggregator pairs (grinding found a session id that pairs two chosen
 * colluders at n = 20 in 7 tries).
 */
import { AddressBook, joinLocal, makeParties, settleAll } from '../support/group-harness';
import { dkSecureSum, secureSum } from '../../src/protocols';
import { seedFor } from '../../src/protocols/common';
import { receivers, shareGraph } from '../../src/protocols/math/index';
import { CheatingDetectedError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

/** Join the same parties (same keys, same session id) as a fresh group. */
async function join(parties: ReturnType<typeof makeParties>): Promise<Group[]> {
  return joinLocal(parties, parties.ids, new AddressBook(), { roundTimeoutMs: 4000 });
}

test('the same parties and session id, the same run: the seed — and so the dk share graph — differs between two formations (nobody can predict it from the session id)', async () => {
  const parties = makeParties(6);
  const seeds: string[] = [];
  const graphs: string[] = [];
  for (let formation = 0; formation < 2; formation++) {
    const groups = await join(parties);
    try {
      const out = await Promise.all(groups.map((g, i) => dkSecureSum(g, i + 1, { k: 3 })));
      for (const r of out) {
        expect(r.sum).toBe(21);
        expect(r.runId).toBe(out[0]!.runId); // same run label in both formations
        expect(r.seed).toBe(out[0]!.seed); // every party derived the same seed
      }
      expect(out[0]!.seed).toMatch(/^[0-9a-f]{64}$/);
      seeds.push(out[0]!.seed);
      const graph = shareGraph(parties.ids, 3, seedFor(Buffer.from(out[0]!.seed, 'hex'), 'dk share graph'));
      graphs.push(JSON.stringify(parties.ids.map((p) => receivers(graph, p))));
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  }
  expect(seeds[0]).not.toBe(seeds[1]);
  // 6 parties, k = 3: many graphs; two equal ones by chance is unlikely but possible, so only the
  // seeds are asserted to differ; the graphs are recorded for the failure message.
  expect(graphs).toHaveLength(2);
}, 30_000);

test('consecutive runs in one group get independent seeds', async () => {
  const parties = makeParties(3);
  const groups = await join(parties);
  try {
    const seen = new Set<string>();
    for (let r = 0; r < 5; r++) {
      const out = await Promise.all(groups.map((g, i) => secureSum(g, i)));
      for (const x of out) expect(x.seed).toBe(out[0]!.seed);
      seen.add(out[0]!.seed);
    }
    expect(seen.size).toBe(5);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 30_000);

test('a party that picks its contribution after seeing the others’ (opens a different coin than it committed to) is named: COMMITMENT_MISMATCH, no result', async () => {
  const parties = makeParties(4);
  const groups = await join(parties);
  try {
    const cheat = groups[2]!;
    const orig = cheat.sendToAll.bind(cheat);
    // The opening rides on the echo digest of the shape round (`<run>/shape/d`, attachment `x`):
    // replace the coin with one "chosen" after the others' openings are known.
    cheat.sendToAll = async (round: string, value: PlainData) => {
      if (round.endsWith('/shape/d')) {
        const v = value as { x: { coin: Uint8Array } };
        const chosen = Uint8Array.from(v.x.coin);
        chosen[0]! ^= 0xff;
        return orig(round, { ...(value as Record<string, PlainData>), x: { coin: chosen } });
      }
      return orig(round, value);
    };
    const out = await settleAll(groups.map((g, i) => dkSecureSum(g, i + 1, { k: 3 })));
    parties.ids.forEach((id, i) => {
      if (id === cheat.localId) return;
      const o = out[i]!;
      expect(o.ok).toBe(false);
      const e = (o as { error: CheatingDetectedError }).error;
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.COMMITMENT_MISMATCH);
      expect(e.peers).toEqual([cheat.localId]);
    });
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 30_000);

test('a party that withholds its opening (the one bit a last opener has) aborts the run naming it, within the deadline', async () => {
  const parties = makeParties(4);
  const groups = await join(parties);
  try {
    const cheat = groups[1]!;
    const orig = cheat.sendToAll.bind(cheat);
    cheat.sendToAll = async (round: string, value: PlainData) => {
      // Never sends its digest and opening; gives up itself later (so that its own call settles).
      if (round.endsWith('/shape/d')) return new Promise<void>((_, reject) => setTimeout(() => reject(new Error('withheld')), 3000));
      return orig(round, value);
    };
    const t0 = Date.now();
    const all = await settleAll(groups.map((g, i) => secureSum(g, i, { roundTimeoutMs: 1500 })));
    const out = all.filter((_, i) => groups[i] !== cheat);
    expect(out).toHaveLength(3);
    for (const o of out) {
      expect(o.ok).toBe(false);
      const e = (o as { error: { code: string; peers: string[] } }).error;
      expect(e.code).toBe(ErrorCode.TIMEOUT);
      expect(e.peers).toEqual([cheat.localId]);
    }
    expect(Date.now() - t0).toBeLessThan(1500 + 6000);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 30_000);
