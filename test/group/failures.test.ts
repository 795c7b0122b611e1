/**
 * Parties that are late, never come, crash mid-round or stay silent — each a real OS process on
 * its own loopback address, found through the DNS server. Assertions are on events and typed
 * errors; the only timing checks are "within the deadline (+ generous slack)" and "well before
 * the round deadline" for a crash (the TCP connection closes, nobody needs to wait).
 */
import { startDevDnsServer, type DevDnsServer } from '../../src/discovery/dev-dns-server';
import { ErrorCode } from '../../src/errors';
import { allReady, PartyWorld, type DiscoverySpec, type PartyProcess } from '../support/party-process';

jest.setTimeout(60_000);

/** Slack for "within the deadline" on a loaded 2-core CI machine. */
const SLACK_MS = 2_500;

let dns: DevDnsServer;
const worlds: PartyWorld[] = [];

beforeAll(async () => {
  dns = await startDevDnsServer({ host: '127.0.0.1', port: 0 });
});

afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.cleanup()));
});

afterAll(async () => {
  await dns?.close();
});

test('a peer that starts 3 s late, absent from DNS until then, joins the mesh', async () => {
  const world = PartyWorld.create(3, { net: [63, 1] });
  worlds.push(world);
  const early = ['1', '2'];
  dns.setA('tasks.late', early.map((id) => world.host(id))); // 3 is not in the answer yet
  const spec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: ['tasks.late'], port: world.port };
  const parties = early.map((id) => world.spawn(id, { action: 'exchange', discovery: spec }));
  const late = world.spawn('3', { action: 'exchange', discovery: spec, startDelayMs: 3_000 });
  // The record appears when the late container starts (before it listens, as in Swarm).
  await late.waitFor('woke', 20_000);
  const queriesBefore = dns.stats().answered;
  dns.addRecords('tasks.late', [world.host('3')]);
  const all = [...parties, late];
  const ready = await allReady(all, 30_000);
  ready.forEach((r, i) => expect([...(r.connected as string[])].sort()).toEqual(world.ids.filter((x) => x !== world.ids[i]).sort()));
  // The early parties kept asking DNS while waiting (the record was absent, not an error).
  expect(queriesBefore).toBeGreaterThan(0);
  for (const p of parties) expect(p.linesOf('ready')[0]!.t).toBeGreaterThan(late.linesOf('woke')[0]!.t);
  for (const p of all) p.command('go');
  const rounds = await Promise.all(all.map((p) => p.waitFor('round', 20_000)));
  for (const r of rounds) expect(r.ok).toBe(true);
  await Promise.all(all.map((p) => p.waitExit(10_000)));
  for (const p of all) expect(p.exitStatus?.code).toBe(0);
  dns.remove('tasks.late');
});

test('a peer that never comes: joinGroup rejects with TIMEOUT naming exactly it, within the deadline, and the process exits on its own', async () => {
  const world = PartyWorld.create(3, { net: [63, 2] });
  worlds.push(world);
  // 3 is in DNS (a container that was scheduled) but nothing ever listens there.
  dns.setA('tasks.never', world.ids.map((id) => world.host(id)));
  const spec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: ['tasks.never'], port: world.port };
  const timeoutMs = 4_000;
  const parties = ['1', '2'].map((id) => world.spawn(id, { action: 'mesh', discovery: spec, timeoutMs }));
  const errors = await Promise.all(parties.map((p) => p.waitFor('error', timeoutMs + 20_000)));
  // Every party names exactly the no-show. The party whose deadline passes first tells the other
  // why it gives up (an abort notice blaming 3) before it closes its channels; the other, which
  // has waited for 3 as long, confirms it and names 3 too — never the party that left first.
  for (const e of errors) {
    expect(e.stage).toBe('join');
    expect(e.peers).toEqual(['3']);
    expect([ErrorCode.TIMEOUT, ErrorCode.PEER_ABORTED]).toContain(e.code);
    if (e.code === ErrorCode.PEER_ABORTED) expect(e.message).toMatch(/COUPLER_ERR_TIMEOUT\) because of "3", which failed here too/);
    else expect(e.elapsedMs as number).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(e.elapsedMs as number).toBeLessThan(timeoutMs + SLACK_MS);
  }
  expect(errors.some((e) => e.code === ErrorCode.TIMEOUT)).toBe(true);
  // No hang: nothing is left open after the failure, so the process ends by itself (code 10 =
  // "reported an expected error"; 99 would be an unhandled rejection, 3 the hard deadline).
  const exits = await Promise.all(parties.map((p) => p.waitExit(5_000)));
  for (const x of exits) expect(x).toEqual({ code: 10, signal: null });
  for (const p of parties) expect(p.linesOf('unhandled')).toEqual([]);
  // Both reached each other before giving up: only 3 was missing.
  for (const p of parties) expect(p.groupEvents('connected').map((e) => e.peer)).toEqual([p.name === '1' ? '2' : '1']);
  dns.remove('tasks.never');
});

test('a peer that crashes mid-round is named PEER_LOST quickly; a silent peer is named by the round TIMEOUT', async () => {
  const world = PartyWorld.create(4, { net: [63, 3] });
  worlds.push(world);
  dns.setA('tasks.crash', world.ids.map((id) => world.host(id)));
  const spec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: ['tasks.crash'], port: world.port };
  const roundTimeoutMs = 20_000;
  const silentTimeoutMs = 2_000;
  const honest = ['1', '2'].map((id) =>
    world.spawn(id, {
      action: 'exchange',
      discovery: spec,
      roundTimeoutMs,
      rounds: [{ name: 'r1' }, { name: 'r2', aliveOnly: true, timeoutMs: silentTimeoutMs }],
    }),
  );
  const crasher = world.spawn('3', { action: 'crash-after-join', discovery: spec });
  const silent = world.spawn('4', { action: 'silent', discovery: spec, roundTimeoutMs });
  const all: PartyProcess[] = [...honest, crasher, silent];
  await allReady(all, 30_000);
  // Everyone is joined; now 3 dies (exit 137, nothing closed) before sending its r1 message.
  for (const p of all) p.command('go');
  expect(await crasher.waitExit(10_000)).toEqual({ code: 137, signal: null });

  const r1 = await Promise.all(honest.map((p) => p.waitFor('round', 20_000, (l) => l.round === 'r1')));
  for (const r of r1) {
    expect(r.ok).toBe(false);
    const err = r.error as { code: string; peer: string; peers: string[] };
    // PEER_LOST naming 3, as soon as its connection closed: well before the 20 s round deadline
    // (the silent 4 would only show at that deadline).
    expect(err.code).toBe(ErrorCode.PEER_LOST);
    expect(err.peer).toBe('3');
    expect(err.peers).toEqual(['3']);
    expect(r.elapsedMs as number).toBeLessThan(roundTimeoutMs / 2);
  }
  for (const p of honest) expect(p.groupEvents('peer-lost').map((e) => e.peer)).toContain('3');

  // r2 among those still there: 4 never sends, so the deadline names exactly it.
  const r2 = await Promise.all(honest.map((p) => p.waitFor('round', 20_000, (l) => l.round === 'r2')));
  for (const r of r2) {
    expect(r.ok).toBe(false);
    const err = r.error as { code: string; name: string; peers: string[] };
    expect(err.name).toBe('TimeoutError');
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    expect(err.peers).toEqual(['4']);
    expect(r.elapsedMs as number).toBeGreaterThanOrEqual(silentTimeoutMs - 50);
    expect(r.elapsedMs as number).toBeLessThan(silentTimeoutMs + SLACK_MS);
  }
  silent.command('exit');
  const exits = await Promise.all([...honest, silent].map((p) => p.waitExit(10_000)));
  for (const x of exits) expect(x).toEqual({ code: 0, signal: null });
  for (const p of all) expect(p.linesOf('unhandled')).toEqual([]);
  dns.remove('tasks.crash');
});
