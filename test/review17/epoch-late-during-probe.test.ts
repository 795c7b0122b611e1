/**
 * review17 R17-5 (the epoch agreement): as in late-during-probe.test.ts, a party whose epoch digest
 * arrived during the probe at the deadline — after the deadline, before the verdict — was named
 * `TIMEOUT`, here by `agreeEpoch`'s own probe of the parties missing at its tolerant gather's
 * deadline.
 *
 * Schedule (real groups on 127.0.0.1, D = 4 s; `agreeEpoch` run again on formed groups under a
 * round name of its own): the cheater e3 delivers its contribution to e2 at 0.9 D (e2's strict
 * gather is still in time); e1 had everything at once and waits for the digests until D. From
 * 0.25 D on, e2's path to e1 is slow one way (0.35 D, in order, a delay line): e2's digest reaches
 * e1 at 1.25 D, inside e1's probe (D .. 1.5 D); e2's answer to the probe (e2 done) after it.
 */
import { delayLine, partiesWith } from './support';
import { AddressBook, joinLocal, settleAll } from '../support/group-harness';
import { cheat } from '../support/cheat';
import { agreeEpoch } from '../../src/group/epoch';
import { CouplerError } from '../../src/errors';
import type { Group } from '../../src/group/group';
import type { Discovery, PeerAddress } from '../../src/discovery/types';

jest.setTimeout(60_000);

const D = 4000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


let groups: Group[] = [];
let line: Awaited<ReturnType<typeof delayLine>> | undefined;
afterEach(async () => {
  await Promise.all(groups.splice(0).map((g) => g.close()));
  await line?.close();
  line = undefined;
});

test('agreeEpoch: a party whose digest arrived during the probe at the deadline is not named', async () => {
  const p = partiesWith(['e1', 'e2', 'e3']);
  const book = new AddressBook();
  line = await delayLine(() => book.others('').find((a) => a.partyHint === 'e1')!.port);
  const via = line.port;
  const discovery = (id: string): Discovery => ({
    kind: 'test',
    discover: (): Promise<PeerAddress[]> =>
      Promise.resolve(
        book
          .others(id)
          .filter((a) => !(id === 'e1' && a.partyHint === 'e2'))
          .map((a) => (id === 'e2' && a.partyHint === 'e1' ? { ...a, port: via } : a)),
      ),
  });
  groups = await joinLocal(p, p.ids, book, { roundTimeoutMs: D, extra: (id) => ({ discovery: discovery(id) }) });
  const [me, late, cheater] = groups as [Group, Group, Group];
  const round = 'again';
  cheat(cheater, async (send, peer, r, payload) => {
    if (r === `${round}/r` && peer === late.localId) await sleep(0.9 * D);
    return send(peer, r, payload);
  });
  void sleep(0.25 * D).then(() => line!.delay(0.35 * D));
  const results = await settleAll(groups.map((g) => agreeEpoch(g, { round, timeoutMs: D })));
  expect(results[0]!.ok).toBe(false);
  const error = (results[0] as { error: unknown }).error as CouplerError;
  console.log(`[R17-5 epoch] e1: ${error.code} peers=${JSON.stringify(error.peers)}: ${error.message.slice(0, 200)}`);
  // e2's digest had arrived when e1 gave its verdict: it is filed, right after.
  await expect(me.receive(late.localId, `${round}/h`, { timeoutMs: 1 })).resolves.toBeInstanceOf(Uint8Array);
  expect(error.peers).not.toContain(late.localId);
});
