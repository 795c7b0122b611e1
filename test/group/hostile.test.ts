/**
 * Hostile things at discovered addresses: an impostor with a key not in the roster, an impostor
 * claiming a roster id with the wrong key, and a stale container of another session holding a real
 * roster key. The DNS answer lists them next to the real parties; the real mesh must still form,
 * and the honest parties' events show the refusals with their typed codes.
 *
 * Ordering is by events, never by sleeps: the last honest party is started only once the honest
 * parties already running have seen the hostile processes (so their listeners were still open).
 */
import { startDevDnsServer, type DevDnsServer } from '../../src/discovery/dev-dns-server';
import { ErrorCode } from '../../src/errors';
import { allReady, PartyWorld, until, type DiscoverySpec, type PartyProcess } from '../support/party-process';

jest.setTimeout(60_000);

let dns: DevDnsServer;
const worlds: PartyWorld[] = [];

beforeAll(async () => {
  dns = await startDevDnsServer({ host: '127.0.0.1', port: 0 });
});

afterEach(async () => {
  for (const w of worlds) for (const p of w.processes) p.command('exit');
  await Promise.all(worlds.splice(0).map((w) => w.cleanup()));
});

afterAll(async () => {
  await dns?.close();
});

const has = (p: PartyProcess, type: string, pred: (e: Record<string, unknown>) => boolean): boolean => p.groupEvents(type).some(pred);

async function finishExchange(world: PartyWorld, honest: readonly PartyProcess[]): Promise<void> {
  const ready = await allReady(honest, 30_000);
  ready.forEach((r, i) => expect([...(r.connected as string[])].sort()).toEqual(world.ids.filter((x) => x !== world.ids[i]).sort()));
  for (const p of honest) p.command('go');
  const rounds = await Promise.all(honest.map((p) => p.waitFor('round', 20_000)));
  for (const r of rounds) expect(r.ok).toBe(true);
  await Promise.all(honest.map((p) => p.waitExit(10_000)));
  for (const p of honest) {
    expect(p.exitStatus).toEqual({ code: 0, signal: null });
    expect(p.linesOf('unhandled')).toEqual([]);
  }
}

test('impostors at discovered addresses are refused with typed codes; the real mesh forms', async () => {
  const world = PartyWorld.create(3, { net: [62, 1] });
  worlds.push(world);
  const unknownHost = world.extraHost();
  const wrongKeyHost = world.extraHost();
  dns.setA('tasks.imp', [...world.ids.map((id) => world.host(id)), unknownHost, wrongKeyHost]);
  const spec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: ['tasks.imp'], port: world.port };
  const unknown = world.spawn('mallory', { action: 'impostor', discovery: spec, impostor: { mode: 'unknown-key', claimId: 'mallory' }, listen: { host: unknownHost, port: world.port } });
  // Claims the lowest id, so honest responders get as far as checking its finish signature.
  const wrongKey = world.spawn('fake-1', { action: 'impostor', discovery: spec, impostor: { mode: 'wrong-key', claimId: '1' }, listen: { host: wrongKeyHost, port: world.port } });
  await Promise.all([unknown.waitFor('listening'), wrongKey.waitFor('listening')]);

  const [p1, p2] = ['1', '2'].map((id) => world.spawn(id, { action: 'exchange', discovery: spec })) as [PartyProcess, PartyProcess];
  const unknownAddr = `${unknownHost}:${world.port}`;
  const wrongAddr = `${wrongKeyHost}:${world.port}`;
  await until(
    [p1, p2, unknown, wrongKey],
    () =>
      // Dialing the impostors: the unknown key is PEER_UNKNOWN, the wrong key fails authentication.
      has(p2, 'dial-failed', (e) => e.address === unknownAddr && e.code === ErrorCode.PEER_UNKNOWN && e.peer === 'mallory') &&
      // The wrong key's claimed id ("1") is never reported as the peer: it is an unproven claim,
      // and "1" is an honest party (review7 A5; before, both events named "1").
      has(p2, 'dial-failed', (e) => e.address === wrongAddr && e.code === ErrorCode.HANDSHAKE_FAILED && e.peer === undefined) &&
      has(p1, 'dial-failed', (e) => e.address === unknownAddr && e.code === ErrorCode.PEER_UNKNOWN) &&
      // The impostors dialing us: refused by the listeners.
      has(p1, 'refused', (e) => e.peer === 'mallory' && e.code === ErrorCode.PEER_UNKNOWN) &&
      has(p2, 'refused', (e) => e.peer === 'mallory' && e.code === ErrorCode.PEER_UNKNOWN) &&
      has(p2, 'refused', (e) => e.peer === undefined && e.code === ErrorCode.HANDSHAKE_FAILED && e.reason === 'auth'),
    'honest parties 1 and 2 saw both impostors refused',
  );
  const p3 = world.spawn('3', { action: 'exchange', discovery: spec });
  await finishExchange(world, [p1, p2, p3]);

  for (const p of [p1, p2, p3]) {
    // Whoever dialled an impostor address got a refusal, never a channel, and only the typed codes
    // (or ABORTED: a dial still in flight when the mesh completed is cancelled).
    for (const e of p.groupEvents('dial-failed').filter((x) => x.address === unknownAddr)) expect([ErrorCode.PEER_UNKNOWN, ErrorCode.ABORTED]).toContain(e.code);
    for (const e of p.groupEvents('dial-failed').filter((x) => x.address === wrongAddr)) expect([ErrorCode.HANDSHAKE_FAILED, ErrorCode.ABORTED]).toContain(e.code);
    for (const e of p.groupEvents('refused').filter((x) => x.peer === 'mallory')) expect(e.code).toBe(ErrorCode.PEER_UNKNOWN);
    expect(p.groupEvents('connected').every((e) => world.ids.includes(e.peer as string))).toBe(true);
  }
  // The impostors never got an authenticated channel either way.
  for (const imp of [unknown, wrongKey]) {
    expect(imp.linesOf('impostor-accepted')).toEqual([]);
    expect(imp.linesOf('impostor-connected')).toEqual([]);
    expect(imp.linesOf('unhandled')).toEqual([]);
  }
  dns.remove('tasks.imp');
});

test('a stale container of another session (same roster key) is refused and does not block', async () => {
  const world = PartyWorld.create(3, { net: [62, 2] });
  worlds.push(world);
  const staleHost = world.extraHost();
  dns.setA('tasks.stale', [...world.ids.map((id) => world.host(id)), staleHost]);
  const spec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: ['tasks.stale'], port: world.port };
  // Party 1's container from an earlier run: the same key, an older session id, still dialing.
  const stale = world.spawn('stale-1', {
    action: 'mesh',
    discovery: spec,
    identityFile: world.identityFile('1'),
    sessionId: `${world.sessionId}-previous`,
    listen: { host: staleHost, port: world.port },
    timeoutMs: 50_000,
  });
  await stale.waitFor('listening');
  const [p1, p2] = ['1', '2'].map((id) => world.spawn(id, { action: 'exchange', discovery: spec })) as [PartyProcess, PartyProcess];
  const staleAddr = `${staleHost}:${world.port}`;
  await until(
    [p1, p2, stale],
    () =>
      // We dial it: it refuses (wrong session), typed HANDSHAKE_FAILED.
      has(p1, 'dial-failed', (e) => e.address === staleAddr && e.code === ErrorCode.HANDSHAKE_FAILED) &&
      has(p2, 'dial-failed', (e) => e.address === staleAddr && e.code === ErrorCode.HANDSHAKE_FAILED) &&
      // It dials us: refused (wrong session, told by the session tag alone — the stale party's id
      // is sealed and never revealed to a party that did not prove it belongs to its session).
      has(p2, 'refused', (e) => e.reason === 'session' && e.peer === undefined && e.code === ErrorCode.HANDSHAKE_FAILED),
    'the stale container was refused both ways',
  );
  const p3 = world.spawn('3', { action: 'exchange', discovery: spec });
  await finishExchange(world, [p1, p2, p3]);
  // The stale process never formed a channel with anyone of this session.
  expect(stale.groupEvents('connected')).toEqual([]);
  expect(stale.linesOf('ready')).toEqual([]);
  dns.remove('tasks.stale');
});
