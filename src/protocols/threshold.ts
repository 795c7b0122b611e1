/**
 * `thresholdSum`: a dropout-tolerant sum by Shamir t-of-n sharing over GF(2^127 − 1)
 * (protocols.md §5).
 *
 * 1. Deal: party i shares its encoded input with a fresh random polynomial f_i of degree t − 1,
 *    f_i(0) = x_i, and sends f_i(j) to party j (evaluation point = 1 + j's canonical index).
 * 2. Agree on dealers: every party reports (to everyone still present) the set of dealers whose
 *    shares it holds; Q = the dealers held by every reporter. A party whose share set is not a
 *    superset of Q cannot contribute and says so.
 * 3. Publish: party j sends T_j = Σ_{i∈Q} f_i(j) with a hash of Q and the signed dealer reports
 *    it computed Q from. A point computed over a different Q aborts the run, so honest parties can
 *    never output sums over different dealers: when two signed reports of the same party differ,
 *    that party is named (`EQUIVOCATION`, both reports as evidence); otherwise (a report lost to a
 *    crash) the abort names nobody (`TAMPERING_DETECTED`).
 * 4. Reconstruct: with r ≥ t points, check that all lie on one polynomial of degree t − 1 (any
 *    tampered share or partial sum breaks it when r > t); with r ≥ t + 2 the inconsistent points are
 *    named (up to ⌊(r − t)/2⌋ of them). S = the polynomial at 0.
 *
 * Up to n − t parties may drop after dealing; the sum then covers the dealers in Q, which the
 * result lists. At most t − 1 colluders learn nothing about an honest input. With exactly t points
 * there is no redundancy: a tampered point cannot be detected.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { CheatingDetectedError, ErrorCode, GroupError, InvalidArgumentError, ValueError } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { encodeEvidence } from '../group/echo.js';
import type { Group } from '../group/group.js';
import { expectArray, expectBytes, expectRecord, expectString } from '../wire/shape.js';
import { encodeMessage, type PlainData } from '../wire/codec.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { bytesEqual } from '../crypto/bytes.js';
import { checkDegree, decodeField, evaluationPoints, fVecAddInPlace, lagrangeAtZero, shamirShare, type ShamirPoint, type SumInput } from './math/index.js';
import { checkGroup, checkSumOptions, fieldFromBytes, fieldToBytes, prepareRun, roundOptions, type SumOptions, type SumResult } from './common.js';

/** A dealer report signed by its author. */
interface SignedReport {
  readonly from: string;
  readonly d: string[];
  readonly sig: Uint8Array;
}

function reportStatement(group: Group, runId: string, from: string, d: readonly string[]): Uint8Array {
  return encodeMessage({ t: 'coupler/1 dealers', s: group.sessionId, r: runId, from, d: [...d] });
}

/** Parse and verify a signed dealer report; undefined when the signature does not verify. */
function parseReport(group: Group, runId: string, value: PlainData, ctx: { what: string; peer: string }): SignedReport | undefined {
  const rec = expectRecord(value, ctx, ['from', 'd', 'sig']);
  const from = expectString(rec.from, 'from', ctx, 64, PARTY_ID_PATTERN);
  const d = expectArray(rec.d, 'd', ctx, group.parties.length).map((x) => expectString(x, 'dealer', ctx, 64, PARTY_ID_PATTERN));
  const sig = expectBytes(rec.sig, 'sig', ctx, 64);
  const entry = group.roster.get(from);
  if (entry === undefined || !ed25519Verify(reportStatement(group, runId, from, d), sig, entry.publicKey)) return undefined;
  return { from, d, sig };
}

/**
 * A peer's partial sum covers another dealer set: find the party that signed two different
 * reports (one to this party, one to the peer) and name it with both as evidence.
 * @throws {@link CheatingDetectedError} `EQUIVOCATION`, or {@link GroupError} when the peer forwards a forged report.
 */
function explainDealerSplit(group: Group, runId: string, peer: string, forwarded: PlainData[], mine: ReadonlyMap<string, SignedReport>): void {
  const ctx = { what: 'forwarded dealer report', peer };
  const evidence = (r: SignedReport): Uint8Array =>
    encodeEvidence({ signer: r.from, statement: reportStatement(group, runId, r.from, r.d), signature: r.sig });
  for (const item of forwarded) {
    const theirs = parseReport(group, runId, item, ctx);
    if (theirs === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" forwarded a dealer report that its author never signed`, { peer });
    const ours = mine.get(theirs.from);
    if (ours === undefined || JSON.stringify(ours.d) === JSON.stringify(theirs.d)) continue;
    throw new CheatingDetectedError(
      ErrorCode.EQUIVOCATION,
      `party "${theirs.from}" reported different dealer sets to different parties`,
      { description: 'two dealer reports signed by the same party for the same run, with different dealer sets', statements: [evidence(ours), evidence(theirs)] },
      { peer: theirs.from },
    );
  }
}

/** Options of {@link thresholdSum}. */
export interface ThresholdSumOptions extends SumOptions {
  /** Reconstruction threshold t, 2 ≤ t ≤ n. Default ⌊n/2⌋ + 1. All parties must agree. */
  readonly t?: number;
}

async function sendTolerant(group: Group, round: string, to: readonly string[], payload: (peer: string) => PlainData): Promise<void> {
  await Promise.all(to.map((peer) => group.send(peer, round, payload(peer)).catch(() => undefined)));
}

const qHash = (q: readonly string[]): Uint8Array => new Uint8Array(createHash('sha256').update(JSON.stringify(q)).digest());

/**
 * Dropout-tolerant secure sum (Shamir t-of-n). Completes as long as at least t parties remain
 * after dealing; detects tampered shares or partial sums when more than t points are available.
 *
 * @param group - the group from `joinGroup`.
 * @param input - the value to sum.
 * @param options - `t` and the common options; every party must pass the same `t`.
 * @returns the sum of the inputs of `contributors` (the agreed dealers).
 * @throws {@link CheatingDetectedError} `TAMPERING_DETECTED` (culprits named when the redundancy
 *   allows); {@link ValueError} `TOO_FEW_PARTIES` when fewer than t remain.
 * @example
 * const { sum, contributors } = await thresholdSum(group, counts, { t: 3 });
 */
export async function thresholdSum(group: Group, input: SumInput, options: ThresholdSumOptions = {}): Promise<SumResult> {
  checkGroup(group);
  const o = checkSumOptions(group, options) as ThresholdSumOptions;
  const n = group.parties.length;
  const t = o.t ?? Math.floor(n / 2) + 1;
  if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw new InvalidArgumentError('"t" must be an integer');
  if (t < 2 || t > n) throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, `"t" must be in 2..${n} for ${n} parties (t = 1 gives no privacy), got ${t}`);
  const run = await prepareRun(group, 'threshold', input, o, 'p127', { t });
  const ro = roundOptions(o);
  const xs = evaluationPoints(n);
  const xOf = new Map(group.parties.map((p, i) => [p, xs[i]!]));

  // 1. Deal.
  const shares = shamirShare(run.encoded, t, xs);
  const myIndex = group.parties.indexOf(group.localId);
  const held = new Map<string, bigint[]>([[group.localId, shares[myIndex]!]]);
  await sendTolerant(group, `${run.runId}/deal`, group.peers, (peer) => ({ y: fieldToBytes(shares[group.parties.indexOf(peer)]!) }));
  const dealt = await group.gatherSome(`${run.runId}/deal`, t - 1, ro);
  for (const [peer, msg] of dealt) {
    const ctx = { what: 'Shamir share', peer };
    held.set(peer, fieldFromBytes(expectBytes(expectRecord(msg, ctx, ['y']).y, 'y', ctx), run.length, 'Shamir share', peer));
  }

  // 2. Agree on the dealers.
  const present = group.peers.filter((p) => !group.lostPeers.includes(p));
  const mySet = group.parties.filter((p) => held.has(p));
  const myReport: SignedReport = { from: group.localId, d: mySet, sig: ed25519Sign(reportStatement(group, run.runId, group.localId, mySet), group.identity.secretKey) };
  await sendTolerant(group, `${run.runId}/dealers`, present, () => ({ d: mySet, sig: myReport.sig }));
  const reports = await group.gatherSome(`${run.runId}/dealers`, t - 1, { ...ro, from: present });
  const signedReports = new Map<string, SignedReport>([[group.localId, myReport]]);
  let q = new Set(mySet);
  for (const [peer, msg] of reports) {
    const ctx = { what: 'dealer report', peer };
    const rec = expectRecord(msg, ctx, ['d', 'sig']);
    const report = parseReport(group, run.runId, { from: peer, d: rec.d ?? null, sig: rec.sig ?? null }, ctx);
    if (report === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" sent a dealer report with an invalid signature`, { peer });
    signedReports.set(peer, report);
    const theirs = new Set(report.d);
    q = new Set([...q].filter((d) => theirs.has(d)));
  }
  const Q = group.parties.filter((p) => q.has(p));
  if (Q.length === 0) throw new ValueError(ErrorCode.TOO_FEW_PARTIES, 'no dealer is held by every remaining party');

  // 3. Publish partial sums over Q.
  const partial = new Array<bigint>(run.length).fill(0n);
  for (const d of Q) fVecAddInPlace(partial, held.get(d)!);
  const myQ = qHash(Q);
  const reporters = [...reports.keys()];
  const used = [...signedReports.values()].map((r) => ({ from: r.from, d: r.d, sig: r.sig }));
  await sendTolerant(group, `${run.runId}/partial`, reporters, () => ({ q: myQ, y: fieldToBytes(partial), rep: used }));
  const published = await group.gatherSome(`${run.runId}/partial`, t - 1, { ...ro, from: reporters });

  // 4. Check and reconstruct.
  const points: ShamirPoint[] = [{ x: xOf.get(group.localId)!, y: partial }];
  const owners: string[] = [group.localId];
  for (const [peer, msg] of published) {
    const ctx = { what: 'partial sum', peer };
    const rec = expectRecord(msg, ctx, ['q', 'y', 'rep']);
    if (!bytesEqual(expectBytes(rec.q, 'q', ctx, 32), myQ)) {
      explainDealerSplit(group, run.runId, peer, expectArray(rec.rep, 'rep', ctx, n), signedReports);
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        `"${peer}" summed over a different set of dealers than this party: the dealer reports disagreed (a party reported different dealer sets to different parties, or a report was lost)`,
        { description: 'partial sums computed over different agreed dealer sets; aborted so that honest parties cannot output different sums', statements: [] },
      );
    }
    points.push({ x: xOf.get(peer)!, y: fieldFromBytes(expectBytes(rec.y, 'y', ctx), run.length, 'partial sum', peer) });
    owners.push(peer);
  }
  if (points.length < t) {
    throw new ValueError(ErrorCode.TOO_FEW_PARTIES, `only ${points.length} consistent partial sums, ${t} needed`, {
      peers: group.parties.filter((p) => !owners.includes(p)),
    });
  }
  if (points.length > t) {
    const check = checkDegree(points, t);
    if (!check.ok) {
      const culprits = (check.suspects ?? []).map((i) => owners[i]!);
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        culprits.length > 0
          ? `inconsistent partial sums from ${culprits.map((c) => `"${c}"`).join(', ')} (a tampered share or partial sum)`
          : 'the partial sums do not lie on one polynomial (a tampered share or partial sum); too little redundancy to name the culprit',
        { description: `Shamir degree check failed over ${points.length} points with t = ${t}`, statements: [] },
        { peers: culprits },
      );
    }
  }
  const sum = lagrangeAtZero(points.slice(0, Math.max(t, points.length)));
  return {
    sum: decodeField(run.shape, sum, run.params),
    protocol: 'thresholdSum',
    contributors: Q,
    runId: run.runId,
    elapsedMs: Date.now() - run.startedAt,
  };
}
