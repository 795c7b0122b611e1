/**
 * review17 R17-5: a strict round (`gather`, `receive`) names a party whose message arrived during
 * the liveness probe at the deadline — after the deadline, before the verdict. The party is not
 * silent: its message came, and then its probe answer (waiting for nobody: it is done), so it is
 * named `TIMEOUT`. review11 R11-2 fixed exactly this in the tolerant `gatherSome` ("a party whose
 * message came is never named"); the strict rounds kept it.
 *
 * Schedule (real groups on 127.0.0.1, deadline D = 4 s): a tolerant round A in which the cheater
 * f3 withholds its message from f2 only (f2 waits out its deadline for A, 0.9 D, then goes on, as
 * the tolerant round allows), then a strict round B. f1 has all of A at once and waits for B from
 * then on (deadline at D); from then on, f2's path to f1 is slow one way: everything f2 sends f1
 * takes 0.35 D (a delay line in a userspace forwarder, in order; f1's probe reaches f2 at once).
 * f2's message of B reaches f1 at 1.25 D, inside f1's probe (D .. 1.5 D), and f2's answer to the
 * probe (sent at D, f2 done, waiting for nobody) at 1.35 D, after it. f1 must not name f2: its
 * message came. (Margins of D/4 on either side, for a loaded machine.)
 */
import { delayLine, partiesWith } from './support';
import { AddressBook, joinLocal, settleAll } from '../support/group-harness';
import { cheat } from '../support/cheat';
import { CouplerError } from '../../src/errors';
import type { Group } from '../../src/group/group';
import type { Discovery, PeerAddress } from '../../src/discovery/types';

jest.setTimeout(60_000);

const D = 4000;


let groups: Group[] = [];
let line: Awaited<ReturnType<typeof delayLine>> | undefined;
afterEach(async () => {
  await Promise.all(groups.splice(0).map((g) => g.close()));
  await line?.close();
  line = undefined;
});

async function schedule(strict: (g: Group, round: string, from: string) => Promise<unknown>): Promise<{ error: CouplerError; late: string }> {
  const p = partiesWith(['f1', 'f2', 'f3']);
  const book = new AddressBook();
  const port = (id: string): number => book.others('').find((a) => a.partyHint === id)!.port;
  line = await delayLine(() => port('f1'));
  const via = line.port;
  // f1 never dials f2; f2 reaches f1 only through the delay line.
  const discovery = (id: string): Discovery => ({
    kind: 'test',
    discover: (): Promise<PeerAddress[]> =>
      Promise.resolve(
        book
          .others(id)
          .filter((a) => !(id === 'f1' && a.partyHint === 'f2'))
          .map((a) => (id === 'f2' && a.partyHint === 'f1' ? { ...a, port: via } : a)),
      ),
  });
  groups = await joinLocal(p, p.ids, book, { roundTimeoutMs: D, extra: (id) => ({ discovery: discovery(id) }) });
  const [me, late, cheater] = groups as [Group, Group, Group];
  const run = 'own.1';
  cheat(cheater, async (send, peer, r, payload) => (r === `${run}/a` && peer === late.localId ? undefined : send(peer, r, payload)));
  const step = async (g: Group, aMs: number, afterA?: () => void): Promise<void> => {
    await g.sendToAll(`${run}/a`, g.localId);
    await g.gatherSome(`${run}/a`, 1, { timeoutMs: aMs });
    afterA?.();
    await g.sendToAll(`${run}/b`, g.localId);
  };
  // f1 has all of A at once (t ≈ 0), then the path from f2 slows: f1's deadline for B is at D.
  // f2 waits for f3's A until 0.9 D, then sends B: it reaches f1 at 1.25 D, during f1's probe
  // (D .. 1.5 D); f2's answer to that probe (sent at D, when f2 is done) reaches f1 at 1.35 D.
  const results = await settleAll([
    (async () => {
      await step(me, D, () => line!.delay(0.35 * D));
      await strict(me, `${run}/b`, late.localId);
    })(),
    step(late, 0.9 * D),
    step(cheater, D),
  ]);
  expect(results[0]!.ok).toBe(false);
  return { error: (results[0] as { error: unknown }).error as CouplerError, late: late.localId };
}

test('gather: a party whose message arrived during the probe at the deadline is not named', async () => {
  const { error, late } = await schedule((g, round) => g.gather(round));
  console.log(`[R17-5 gather] f1: ${error.code} peers=${JSON.stringify(error.peers)}: ${error.message.slice(0, 160)}`);
  expect(error.peers).not.toContain(late);
});

test('receive: a party whose message arrived during the probe at the deadline is not named', async () => {
  const { error, late } = await schedule((g, round, from) => g.receive(from, round));
  console.log(`[R17-5 receive] f1: ${error.code} peers=${JSON.stringify(error.peers)}: ${error.message.slice(0, 160)}`);
  // The message had arrived when the verdict was given: it is there, filed, right after.
  await expect(groups[0]!.receive(late, 'own.1/b', { timeoutMs: 1 })).resolves.toBe(late);
  expect(error.peers).not.toContain(late);
});
