/**
 * Attacks on the overlay network, over real network namespaces:
 *
 * - DNS spoofing + on-path attacker: the DNS server answers the ATTACKER's address in place of
 *   party p02 (the party with the highest id, so every channel to it is dialed through the
 *   attacker). The attacker relays to the real p02 and modifies, drops or replays one WebSocket
 *   message after the handshake. Expected: the channel fails with FRAME_AUTH_FAILED /
 *   FRAME_SEQUENCE, every honest party aborts with a typed error naming a party of the attacked
 *   link, nobody outputs a result.
 * - Impostors: extra DNS answers that lead to a process with its own key, claiming an unknown id
 *   or a real party's id. Expected: refused (PEER_UNKNOWN / HANDSHAKE_FAILED), the real parties
 *   still reach each other, correct result.
 */
import { generateIdentity, serializeIdentity } from '../../src/identity/identity';
import { createRoster, parseRoster, rosterToJSON } from '../../src/identity/roster';
import { DNS_IP, createTestbed, netnsAvailable, type NsProcess, type Testbed } from './testbed';
import { makeParties, startParties, PARTY_PORT } from './parties';
import { expectedChecksum } from './inputs';

const avail = netnsAvailable();
if (!avail.ok) console.warn(`[netns] SKIPPED test/netns/attacks.test.ts: ${avail.reason}`);
const suite = avail.ok ? describe : describe.skip;

const results = (p: NsProcess): Record<string, unknown>[] => p.events.filter((e) => e.event === 'result');
const errorOf = (p: NsProcess): Record<string, unknown> | undefined => p.events.find((e) => e.event === 'error');
const named = (e: Record<string, unknown> | undefined): string[] => [...((e?.peers as string[] | undefined) ?? []), ...(e?.peer ? [e.peer as string] : [])];

suite('netns testbed: attacks on the network', () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await createTestbed({ n: 3, bandwidthMbit: 100, aux: { atk: 5, imp: 6, imp2: 7 }, childDeadlineMs: 60_000 });
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
  });

  const onPath = (mode: 'modify' | 'drop' | 'replay', expectCode: string): void => {
    test(`DNS points p02's slot at an attacker that ${mode}s a frame in transit: ${expectCode}, abort naming the link, no result`, async () => {
      const set = makeParties(3);
      // Message 1 and 2 from the dialer are the handshake (hello, finish); 3 is the first data frame.
      const atk = tb.run(tb.aux.atk!, 'test/netns/forwarder.ts', {
        CPL_FWD: JSON.stringify({
          routes: [{ listenPort: PARTY_PORT, host: tb.hosts[2]!.ip, port: PARTY_PORT }],
          tamper: { mode, direction: 'c2s', atMessage: 3 },
        }),
      });
      const ps: NsProcess[] = [];
      try {
        await atk.waitEvent('listening', 20_000);
        await tb.setA('tasks.sum', [tb.hosts[0]!.ip, tb.hosts[1]!.ip, tb.aux.atk!.ip]);
        // A channel that fails before a party's mesh is complete may be re-dialed until the join
        // deadline (a restarted peer may come back), so the join deadline bounds those parties.
        // p02 finds nobody to dial (its name resolves to nothing), so its channels are the ones the
        // others dial through the attacker.
        ps.push(
          ...startParties(tb, set, (i) => ({
            length: 1000,
            iterations: 1,
            roundTimeoutMs: 5000,
            joinTimeoutMs: 10_000,
            ...(i === 2 ? { discovery: { kind: 'dns' as const, server: `${DNS_IP}:53`, names: ['tasks.nobody'] } } : {}),
          })),
        );
        const t0 = Date.now();
        const codes = await Promise.all(ps.map((p) => p.waitExit(25_000)));
        const elapsed = Date.now() - t0;
        const diag = ps.map((p) => `${p.name}: exit ${String(p.exitStatus)} ${JSON.stringify(errorOf(p))}`).join('\n');
        // Every party (all are honest; the attacker is on the network) aborts, typed, in time.
        expect({ codes, diag }).toEqual({ codes: [3, 3, 3], diag });
        expect(elapsed).toBeLessThan(25_000);
        for (const p of ps) expect(results(p)).toEqual([]);
        expect(atk.events.filter((e) => e.event === 'tampered').length).toBeGreaterThan(0);
        // The receiving end (p02) saw the forged/missing/replayed frame and named the sender.
        const victimErr = errorOf(ps[2]!)!;
        // The frame error shows in the abort's cause chain, or (when the channel failed while the
        // mesh was still forming and the run then timed out) in the party's peer-lost event.
        const allCodes = ps.flatMap((p) => [
          ...((errorOf(p)!.codes as string[]) ?? []),
          ...p.events.filter((e) => e.event === 'group' && e.type === 'peer-lost').map((e) => String(e.code)),
        ]);
        expect(allCodes).toContain(expectCode);
        expect(named(victimErr).some((x) => x === 'p00' || x === 'p01')).toBe(true);
        // The dialers name p02, whose channel failed.
        for (const p of ps.slice(0, 2)) expect(named(errorOf(p)).length).toBeGreaterThan(0);
        expect(ps.slice(0, 2).some((p) => named(errorOf(p)).includes('p02'))).toBe(true);
      } finally {
        for (const p of ps) p.kill();
        atk.kill();
      }
    }, 60_000);
  };
  onPath('modify', 'COUPLER_ERR_FRAME_AUTH_FAILED');
  onPath('drop', 'COUPLER_ERR_FRAME_SEQUENCE');
  onPath('replay', 'COUPLER_ERR_FRAME_SEQUENCE');

  test('impostors with their own keys (an unknown id; p02 key-substituted) are refused; the real mesh computes the right sum', async () => {
    const set = makeParties(3);
    const honest = JSON.parse(set.rosterJson) as { parties?: { id: string; publicKey: string }[] };
    const impostor = (claimId: string): string => {
      const ident = generateIdentity(claimId);
      const base = parseRoster(set.rosterJson);
      const entries = base.ids.filter((id) => id !== claimId).map((id) => ({ id, publicKey: base.get(id)!.publicKey }));
      entries.push({ id: claimId, publicKey: ident.publicKey });
      return JSON.stringify({
        identity: serializeIdentity(ident),
        roster: rosterToJSON(createRoster(entries)),
        sessionId: set.sessionId,
        claimId,
        port: PARTY_PORT,
        targets: tb.hosts.map((h) => `${h.ip}:${PARTY_PORT}`),
      });
    };
    void honest;
    const imps = [
      tb.run(tb.aux.imp!, 'test/netns/impostor.ts', { CPL_IMP: impostor('mallory') }),
      tb.run(tb.aux.imp2!, 'test/netns/impostor.ts', { CPL_IMP: impostor('p02') }),
    ];
    const ps: NsProcess[] = [];
    try {
      await Promise.all(imps.map((i) => i.waitEvent('listening', 20_000)));
      // Impostors first in the answer, so they are dialed before (or alongside) the real p02.
      await tb.setA('tasks.sum', [tb.aux.imp!.ip, tb.aux.imp2!.ip, ...tb.hosts.map((h) => h.ip)]);
      ps.push(...startParties(tb, set, { length: 1000, iterations: 1, roundTimeoutMs: 10_000 }));
      const codes = await Promise.all(ps.map((p) => p.waitExit(30_000)));
      expect(codes).toEqual([0, 0, 0]);
      for (const p of ps) expect(results(p)[0]!.checksum).toBe(expectedChecksum(3, 1000));
      const failed = ps.flatMap((p) => p.events.filter((e) => e.event === 'group' && (e.type === 'dial-failed' || e.type === 'refused')));
      const at = (ip: string): unknown[] => failed.filter((e) => String(e.address ?? e.remoteAddress ?? '').includes(ip)).map((e) => e.code);
      // p00 and p01 dial every address; both impostors' answers were refused.
      expect(at(tb.aux.imp!.ip)).toContain('COUPLER_ERR_PEER_UNKNOWN');
      expect(at(tb.aux.imp2!.ip).some((c) => c === 'COUPLER_ERR_HANDSHAKE_FAILED' || c === 'COUPLER_ERR_PEER_UNKNOWN')).toBe(true);
      for (const imp of imps) expect(imp.events.filter((e) => e.event === 'accepted' || e.event === 'dial-accepted')).toEqual([]);
      console.log(
        `[netns] impostor refusals seen by the honest dialers: mallory@${tb.aux.imp!.ip}: ${[...new Set(at(tb.aux.imp!.ip))].join(',')}; ` +
          `fake p02@${tb.aux.imp2!.ip}: ${[...new Set(at(tb.aux.imp2!.ip))].join(',')}; ` +
          `impostor dials refused: ${imps.map((i) => [...new Set(i.events.filter((e) => e.event === 'dial-refused').flatMap((e) => (e.codes as string[]).slice(0, 1)))].join(',')).join(' / ')}`,
      );
    } finally {
      for (const p of ps) p.kill();
      for (const i of imps) i.kill();
    }
  }, 60_000);
});
