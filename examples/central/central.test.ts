/**
 * The central example against a fake vantage6 v4 node proxy on loopback, with every container a
 * real `coupler run` process: the central container creates the key subtask and the compute
 * subtask through the proxy, the three stations exchange keys, find each other through the
 * proxy's VPN address endpoint, run one secure sum, and the central container checks that they
 * agree. The containers run algorithm.ts as the image has it (transpiled by the Dockerfile's
 * esbuild step). Also: the same `partial` from the .ts source under `coupler simulate`
 * (operator-provisioned keys).
 * Needs the built CLI (`npm run build`).
 */
import { join } from 'node:path';
import { createRoster, generateIdentity, rosterToJSON, saveIdentity } from '../../src/identity';
import { EXAMPLES, builtCli, csvColumn, runExample, stationFiles, tempDir, transpileLikeImage, writeText } from '../_support/harness';
import { startFakeCollaboration, type FakeCollaboration } from '../_support/fake-node';
import { startRelay } from '../../src/relay';

const ALGORITHM = join(EXAMPLES, 'central', 'algorithm.ts');
const DATA = stationFiles('central', 3);

interface Summary {
  column: string;
  threshold: number;
  count: number;
  missing: number;
  mean: number;
  atOrAbove: number;
  proportionAtOrAbove: number;
  stations: string[];
}

function clear(threshold: number): Omit<Summary, 'column' | 'threshold' | 'stations'> {
  const cells = DATA.flatMap((f) => csvColumn(f, 'hba1c'));
  const values = cells.filter((c) => c !== '' && c !== 'NA').map(Number);
  const atOrAbove = values.filter((x) => x >= threshold).length;
  return {
    count: values.length,
    missing: cells.length - values.length,
    mean: values.reduce((a, x) => a + x, 0) / values.length,
    atOrAbove,
    proportionAtOrAbove: atOrAbove / values.length,
  };
}

let root: string;
let cleanup: () => void;
let collab: FakeCollaboration | undefined;
let image: { module: string; cleanup: () => void } | undefined;

beforeAll(() => {
  builtCli();
  // The containers run what the image runs: algorithm.ts transpiled by the Dockerfile's esbuild
  // step, on plain Node, importing the built package (and they start faster than through tsx).
  const dir = tempDir('coupler-central-image-');
  try {
    image = { module: transpileLikeImage('central', dir.dir), cleanup: dir.cleanup };
  } catch (err) {
    dir.cleanup();
    throw err;
  }
});
afterAll(() => image?.cleanup());
beforeEach(() => {
  ({ dir: root, cleanup } = tempDir('coupler-central-'));
});
afterEach(async () => {
  await collab?.close();
  collab = undefined;
  cleanup();
});

/** The transpiled module (set up in beforeAll). */
const imageModule = (): string => image!.module;

test('central: key subtasks, roster, compute subtasks peer-to-peer, agreed result equal to the values in the clear', async () => {
  collab = await startFakeCollaboration({ algorithm: imageModule(), root, data: new Map(DATA.map((f, i) => [i + 1, f])) });
  const { exitCode, output, stderr } = await collab.runCentral('central', { threshold: 48, pollIntervalMs: 100 });
  await collab.settle();
  expect({ exitCode, stderr: stderr.split('\n').filter((l) => l.includes('error')) }).toEqual({ exitCode: 0, stderr: [] });
  expect(collab.proxy.hookErrors).toEqual([]);

  const out = output as Summary & { tasks: { keys: number; compute: number } };
  expect(out).toMatchObject({ column: 'hba1c', threshold: 48, stations: ['1', '2', '3'] });
  const expected = clear(48);
  expect(out.count).toBe(expected.count);
  expect(out.missing).toBe(expected.missing);
  expect(out.atOrAbove).toBe(expected.atOrAbove);
  expect(out.proportionAtOrAbove).toBeCloseTo(expected.proportionAtOrAbove, 12);
  expect(Math.abs(out.mean - expected.mean) / expected.mean).toBeLessThanOrEqual(1e-9);

  // what went through the server: a key task and a compute task, created by the central container
  const tasks = [...collab.proxy.tasks.values()];
  expect(tasks.map((t) => [t.name, t.parentId])).toEqual([
    ['coupler-keys', 50],
    ['coupler-partial', 50],
  ]);
  expect(out.tasks).toEqual({ keys: tasks[0]!.id, compute: tasks[1]!.id });
  const computeKwargs = (collab.proxy.runsOf(tasks[1]!.id)[0]!.input as { kwargs: Record<string, unknown> }).kwargs;
  expect(Object.keys(computeKwargs).sort()).toEqual(['column', 'keyTaskId', 'minRows', 'roster', 'sessionId', 'threshold']);
  // seven containers, all exited cleanly: the central one, three key exchanges, three computes
  expect(collab.containers.map((c) => `${c.method}@${c.organizationId}:${c.exitCode}`).sort()).toEqual([
    'central@1:0',
    'coupler_key_exchange@1:0',
    'coupler_key_exchange@2:0',
    'coupler_key_exchange@3:0',
    'partial@1:0',
    'partial@2:0',
    'partial@3:0',
  ]);
  // the stations found each other through the proxy's VPN address endpoint, and nothing secret
  // or station-level went through the server: only public keys and the pooled result
  expect(collab.proxy.requests.some((r) => r.path === '/vpn/algorithm/addresses')).toBe(true);
  for (const run of collab.proxy.runs.values()) {
    const text = `${JSON.stringify(run.input)} ${Buffer.from(run.result ?? '', 'base64').toString('utf8')}`;
    expect(text).not.toContain('secretSeed');
  }
});

test('vantage6 5.x: the same central run with kwargs-only input, SESSION_FOLDER, Parquet dataframes, and the stations meeting only through a relay that was given no roster', async () => {
  // 5.x has no VPN and the node denies ingress between task pods: the compute containers dial out
  // to a relay. Their keys are made per task (key subtasks), so the relay admits them on the
  // roster-bound session id the central container made (`--roster-bound-sessions`).
  const relay = await startRelay({ rosters: [], rosterBoundSessions: true, host: '127.0.0.1', port: 0 });
  try {
    collab = await startFakeCollaboration({
      algorithm: imageModule(),
      root,
      data: new Map(DATA.map((f, i) => [i + 1, f])),
      version: 'v5',
      relayUrl: `ws://127.0.0.1:${relay.port}`,
    });
    const { exitCode, output, stderr } = await collab.runCentral('central', { threshold: 48, pollIntervalMs: 100 });
    await collab.settle();
    if (exitCode !== 0) console.log(collab.containers.map((c) => `${c.method}@${c.organizationId}: ${c.stderr}`).join('\n'));
    expect({ exitCode, stderr: stderr.split('\n').filter((l) => l.includes('error')) }).toEqual({ exitCode: 0, stderr: [] });
    expect(collab.proxy.hookErrors).toEqual([]);
    const out = output as Summary;
    const expected = clear(48);
    expect(out).toMatchObject({ column: 'hba1c', threshold: 48, stations: ['1', '2', '3'], count: expected.count, missing: expected.missing, atOrAbove: expected.atOrAbove });
    expect(Math.abs(out.mean - expected.mean) / expected.mean).toBeLessThanOrEqual(1e-9);
    // The subtasks went out in the 5.x body (HQ's rules, enforced by the fake v5 proxy), and the
    // containers said they ran under the v5 contract.
    const tasks = [...collab.proxy.tasks.values()];
    expect(tasks.map((t) => t.body.method)).toEqual(['coupler_key_exchange', 'partial']);
    expect(tasks.every((t) => t.body.session_id === 7 && t.body.action === 'federated_compute')).toBe(true);
    expect(collab.containers.every((c) => c.stderr.includes('(contract v5)'))).toBe(true);
    expect(collab.containers.map((c) => `${c.method}@${c.organizationId}:${c.exitCode}`).sort()).toEqual([
      'central@1:0',
      'coupler_key_exchange@1:0',
      'coupler_key_exchange@2:0',
      'coupler_key_exchange@3:0',
      'partial@1:0',
      'partial@2:0',
      'partial@3:0',
    ]);
    // No VPN lookups; every pair went through the relay, admitted on the task's own roster.
    expect(collab.proxy.requests.some((r) => r.path === '/vpn/algorithm/addresses')).toBe(false);
    expect(relay.stats().bytesForwarded).toBeGreaterThan(0);
    expect(relay.stats().refused).toEqual({});
  } finally {
    await collab?.close();
    collab = undefined;
    await relay.close();
  }
});

test('vantage6 5.x, a node whose operator set no algorithm_env: the researcher names the relay in the task\'s kwargs (couplerTransport, couplerRelayUrl), and the stations meet through it', async () => {
  const relay = await startRelay({ rosters: [], rosterBoundSessions: true, host: '127.0.0.1', port: 0 });
  try {
    collab = await startFakeCollaboration({
      algorithm: imageModule(),
      root,
      data: new Map(DATA.map((f, i) => [i + 1, f])),
      version: 'v5',
      relayUrl: `ws://127.0.0.1:${relay.port}`,
      transportFrom: 'none',
    });
    const { exitCode, output, stderr } = await collab.runCentral('central', { threshold: 48, pollIntervalMs: 100, couplerTransport: 'relay', couplerRelayUrl: `ws://127.0.0.1:${relay.port}` });
    await collab.settle();
    if (exitCode !== 0) console.log(collab.containers.map((c) => `${c.method}@${c.organizationId}: ${c.stderr}`).join('\n'));
    expect({ exitCode, stderr: stderr.split('\n').filter((l) => l.includes('error')) }).toEqual({ exitCode: 0, stderr: [] });
    expect((output as Summary).count).toBe(clear(48).count);
    const partials = collab.containers.filter((c) => c.method === 'partial');
    expect(partials).toHaveLength(3);
    for (const c of partials) {
      expect(c.stderr).toContain('COUPLER_TRANSPORT from input "couplerTransport" (the node sets none)');
      expect(c.stderr).toContain('COUPLER_RELAY_URL from input "couplerRelayUrl" (the node sets none)');
      expect(c.stderr).not.toContain(`127.0.0.1:${relay.port}`); // the URL is not logged
    }
    expect(relay.stats().bytesForwarded).toBeGreaterThan(0);
  } finally {
    await collab?.close();
    collab = undefined;
    await relay.close();
  }
});

test('vantage6 5.x: the node\'s algorithm_env wins over the kwargs (a researcher cannot move the stations to another relay)', async () => {
  const relay = await startRelay({ rosters: [], rosterBoundSessions: true, host: '127.0.0.1', port: 0 });
  try {
    collab = await startFakeCollaboration({
      algorithm: imageModule(),
      root,
      data: new Map(DATA.map((f, i) => [i + 1, f])),
      version: 'v5',
      relayUrl: `ws://127.0.0.1:${relay.port}`,
    });
    // A relay address nobody listens on: were it used, the stations could not meet.
    const { exitCode, stderr } = await collab.runCentral('central', { threshold: 48, pollIntervalMs: 100, couplerRelayUrl: 'ws://127.0.0.1:9' });
    await collab.settle();
    expect({ exitCode, stderr: stderr.split('\n').filter((l) => l.includes('error')) }).toEqual({ exitCode: 0, stderr: [] });
    for (const c of collab.containers.filter((x) => x.method === 'partial')) {
      expect(c.stderr).toContain('COUPLER_RELAY_URL is set by the node; input "couplerRelayUrl" is ignored (the operator\'s setting wins)');
    }
    expect(relay.stats().bytesForwarded).toBeGreaterThan(0);
  } finally {
    await collab?.close();
    collab = undefined;
    await relay.close();
  }
});

test('two organizations: the central method refuses before any subtask (their sums would refuse two parties only after the key exchange and the mesh)', async () => {
  collab = await startFakeCollaboration({ algorithm: imageModule(), root, data: new Map(DATA.map((f, i) => [i + 1, f])) });
  const { exitCode, output, stderr } = await collab.runCentral('central', { organizations: [1, 2], pollIntervalMs: 100 });
  expect(exitCode).toBe(1);
  expect(output).toBeUndefined();
  expect(stderr).toMatch(/needs at least 3 organizations/);
  expect(collab.proxy.tasks.size).toBe(0);
});

test('a station whose data lacks the column: the central container fails naming that organization, no result', async () => {
  const broken = writeText(join(root, 'broken.csv'), 'id,glucose\n1,5.4\n2,7.1\n');
  collab = await startFakeCollaboration({
    algorithm: imageModule(),
    root,
    data: new Map([
      [1, DATA[0]!],
      [2, broken],
      [3, DATA[2]!],
    ]),
    env: { COUPLER_JOIN_TIMEOUT_MS: '2000' }, // the other stations give up waiting for it after 2 s
  });
  const { exitCode, output, stderr } = await collab.runCentral('central', { pollIntervalMs: 100 });
  expect(exitCode).toBe(1);
  expect(output).toBeUndefined();
  expect(stderr).toMatch(/organizations that failed: 2\b/);
  await collab.settle();
  const station2 = collab.containers.find((c) => c.method === 'partial' && c.organizationId === 2)!;
  expect(station2.exitCode).toBe(1);
  expect(station2.stderr).toContain('COUPLER_ERR_VALUE_INVALID: the data has no column "hba1c" (columns: id, glucose)');
  expect(station2.stderr).not.toContain('5.4'); // no data value in the log
  for (const c of collab.containers.filter((x) => x.method === 'partial')) expect(c.exitCode).toBe(1);
});

test('central with operator-provisioned keys: no key subtask, the stations use their mounted identity and roster', async () => {
  const ids = [1, 2, 3];
  const identities = ids.map((id) => generateIdentity(String(id)));
  const rosterFile = writeText(join(root, 'provisioned', 'roster.json'), rosterToJSON(createRoster(identities.map((x) => ({ id: x.id!, publicKey: x.publicKey })))));
  const stationEnv = new Map<number, Record<string, string>>();
  for (const [i, id] of ids.entries()) {
    const identityFile = join(root, 'provisioned', `org-${id}.json`);
    await saveIdentity(identityFile, identities[i]!);
    stationEnv.set(id, { COUPLER_IDENTITY_FILE: identityFile, COUPLER_ROSTER_FILE: rosterFile });
  }
  collab = await startFakeCollaboration({ algorithm: imageModule(), root, data: new Map(DATA.map((f, i) => [i + 1, f])), stationEnv });
  const { exitCode, output } = await collab.runCentral('central', { keys: 'provisioned', pollIntervalMs: 100 });
  expect(exitCode).toBe(0);
  expect(output).toMatchObject({ count: clear(48).count, atOrAbove: clear(48).atOrAbove, stations: ['1', '2', '3'], tasks: { compute: expect.any(Number) } });
  expect([...collab.proxy.tasks.values()].map((t) => t.name)).toEqual(['coupler-partial']);
  const computeKwargs = (collab.proxy.runsOf([...collab.proxy.tasks.keys()][0]!)[0]!.input as { kwargs: Record<string, unknown> }).kwargs;
  expect(Object.keys(computeKwargs).sort()).toEqual(['column', 'minRows', 'sessionId', 'threshold']); // no roster through the server
});

test.each([4, 5] as const)('vantage6 %i.x: the same partial under coupler simulate (operator-provisioned keys instead of key subtasks)', async (vantage6) => {
  const { outcome, results } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { threshold: 53 }, vantage6 });
  expect(outcome.agreed).toBe(true);
  const expected = clear(53);
  expect(results[0]).toMatchObject({ column: 'hba1c', threshold: 53, count: expected.count, atOrAbove: expected.atOrAbove, stations: ['1', '2', '3'] });
});
