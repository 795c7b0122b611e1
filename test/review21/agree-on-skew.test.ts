/**
 * Review 21, joinPeerGroup's agreeOn (ab20a03) between stations whose code differs: the real
 * joinPeerGroup, 3 provisioned stations in this process on 127.0.0.1 (identity and roster files,
 * as option 1), discovery and listener given as overrides.
 *
 * - Held: stations with different agreeOn lists (one image names more kwargs) stop together with
 *   SHAPE_MISMATCH naming nobody (the names are part of the digest).
 * - Held: a station on an image without agreeOn (older, or a node with a stale `latest`) takes no
 *   `v6-input` run id, so its first sum is `sum.1` while the others' would be `sum.2`: its messages
 *   are dropped at the others (a counter they gave to `v6-input`). The others time out in the echo
 *   round naming nobody (the old station says it waits for them) and close the group; the old
 *   station then fails PEER_ABORTED naming nobody (7 of 7 runs, 3 of them beside two busy loops).
 *   Without the close (agreeOnInput's own) the old station's sum named both others by TIMEOUT: a
 *   probe of mine replaying the round without closing showed it, so the close is what holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { joinPeerGroup } from '../../src/vantage6';
import { readContainerEnv } from '../../src/vantage6/env';
import { secureSum } from '../../src';
import { generateIdentity, saveIdentity, createRoster, rosterToJSON } from '../../src/identity';
import { AddressBook, settleAll } from '../support/group-harness';
import { writeFileSync } from 'node:fs';
import type { Group } from '../../src/group/group';

jest.setTimeout(120_000);

let dir: string;
const saved = { d: process.env.COUPLER_DISCOVERY, p: process.env.COUPLER_PEERS };
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-r21-skew-'));
  // joinPeerGroup builds the environment's discovery before the overrides replace it: one that
  // needs no vantage6 client (never dialled: the overrides' discovery is used).
  process.env.COUPLER_DISCOVERY = 'static';
  process.env.COUPLER_PEERS = '127.0.0.1:9';
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of [['COUPLER_DISCOVERY', saved.d], ['COUPLER_PEERS', saved.p]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const silent = { info() {}, warn() {}, error() {}, debug() {} };

async function stations(n: number): Promise<{ ctx: (i: number) => unknown; overrides: (i: number) => object; sessionId: string }> {
  const ids = Array.from({ length: n }, (_, i) => String(i + 1));
  const identities = ids.map((id) => generateIdentity(id));
  const rosterFile = join(dir, `roster-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(rosterFile, rosterToJSON(createRoster(identities.map((x, i) => ({ id: ids[i]!, publicKey: x.publicKey })))));
  const files: string[] = [];
  for (const x of identities) {
    const f = join(dir, `id-${x.id}-${randomBytes(4).toString('hex')}.json`);
    await saveIdentity(f, x);
    files.push(f);
  }
  const book = new AddressBook();
  return {
    sessionId: `r21-${randomBytes(6).toString('hex')}`,
    ctx: (i) => ({
      contractVersion: 'v4',
      organizationId: ids[i],
      env: readContainerEnv({ COUPLER_IDENTITY_FILE: files[i]!, COUPLER_ROSTER_FILE: rosterFile }),
      logger: silent,
      signal: undefined,
    }),
    overrides: (i) => ({
      discovery: [book.discoveryFor(ids[i]!)],
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 20_000,
      roundTimeoutMs: 3_000,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e: { type: string; port?: number }) => {
        if (e.type === 'listening') book.add(ids[i]!, e.port!);
      },
    }),
  };
}

function summary(o: { ok: boolean; error?: unknown }): string {
  if (o.ok) return 'ok';
  const e = o.error as { code?: string; peers?: string[] };
  if (process.env.R21_DEBUG) console.log(String((o.error as Error).message));
  return `${e.code} [${(e.peers ?? []).join(',')}]`;
}

test('held: different agreeOn lists stop every station with SHAPE_MISMATCH naming nobody', async () => {
  const s = await stations(3);
  const kwargs = { sessionId: s.sessionId, column: 'age', threshold: 48 };
  const lists = [['column', 'threshold'], ['column', 'threshold'], ['column']];
  const out = await settleAll(lists.map((agreeOn, i) => joinPeerGroup(kwargs, s.ctx(i) as never, s.overrides(i), { agreeOn }).then((g) => g.close())));
  expect(out.map(summary)).toEqual(['COUPLER_ERR_SHAPE_MISMATCH []', 'COUPLER_ERR_SHAPE_MISMATCH []', 'COUPLER_ERR_SHAPE_MISMATCH []']);
});

test('held: the same values given as 0 and -0, or in another key order, agree (no false alarm)', async () => {
  const s = await stations(3);
  const given = [{ edges: [0, 1], opts: { a: 1, b: 2 } }, { edges: [-0, 1], opts: { b: 2, a: 1 } }, { edges: [0, 1.0], opts: { a: 1, b: 2 } }];
  const groups: Group[] = [];
  const out = await settleAll(given.map((k, i) => joinPeerGroup({ sessionId: s.sessionId, ...k }, s.ctx(i) as never, s.overrides(i), { agreeOn: ['edges', 'opts'] }).then((g) => void groups.push(g))));
  await Promise.all(groups.map((g) => g.close()));
  expect(out.map(summary)).toEqual(['ok', 'ok', 'ok']);
});

// R21-4 (found by the lead running the suite under Node 26 with the CPU saturated: 3 of about 25
// runs, never on a quiet machine): station 3 (no agreeOn) timed out in its sum and probed 1 and 2;
// a station still in the agreeOn round answered the probe (about no run in particular) waiting for
// nobody, and station 3 named it: 'TIMEOUT ["2"] round "sum.1/shape/v": no message from "1", "2"'.
// A probe now names the run it asks about, and a station that gave that counter to another run
// (v6-input.1) says so: nobody is named (test/group/run-skew.test.ts has the deterministic case).
test('R21-4: a station without agreeOn (older image) names no other station', async () => {
  const s = await stations(3);
  const kwargs = { sessionId: s.sessionId, column: 'age' };
  const out = await settleAll(
    [0, 1, 2].map(async (i) => {
      const g = await joinPeerGroup(kwargs, s.ctx(i) as never, s.overrides(i), i < 2 ? { agreeOn: ['column'] } : {});
      try {
        return await secureSum(g, 5n);
      } finally {
        await g.close();
      }
    }),
  );
  for (const o of out) expect(o.ok ? [] : (o.error as { peers?: string[] }).peers ?? []).toEqual([]);
});

test('R21-6: a kwarg named "__proto__" in agreeOn is compared like any other', async () => {
  // JSON.parse makes "__proto__" an own property (an input may carry it); the digest's record
  // took it as its prototype instead, so different values gave one digest.
  const s = await stations(3);
  const given = [1, 2, 1].map((v) => ({ sessionId: s.sessionId, ...(JSON.parse(`{"__proto__": {"t": ${v}}}`) as object) }));
  const groups: Group[] = [];
  const out = await settleAll(given.map((k, i) => joinPeerGroup(k, s.ctx(i) as never, s.overrides(i), { agreeOn: ['__proto__'] }).then((g) => void groups.push(g))));
  await Promise.all(groups.map((g) => g.close()));
  expect(out.map(summary)).toEqual(['COUPLER_ERR_SHAPE_MISMATCH []', 'COUPLER_ERR_SHAPE_MISMATCH []', 'COUPLER_ERR_SHAPE_MISMATCH []']);
});
