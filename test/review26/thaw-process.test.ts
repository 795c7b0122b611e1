/**
 * review26 question 3: a party frozen with its sockets open (SIGSTOP: a paused VM or container, a
 * sleeping laptop) is a dropout to the others, who complete; when it resumes (SIGCONT) it reads what
 * was queued for it and carries on with its run. It must then not name the others: they are honest
 * and done. Every party is a process running the real thresholdSum
 * (test/protocols/fixtures/adversary.ts 'threshold-honest-vector'); p4 is stopped `freezeAtMs` after
 * the group joined and resumed once the others reported.
 */
import { AddressBook, makeParties, spawnParty, type FixtureProcess } from '../support/group-harness';
import { cases } from '../support/extended';

const FIXTURE = 'test/protocols/fixtures/adversary.ts';

async function frozenThenResumed(L: number, freezeAtMs: number, ROUND: number): Promise<Map<string, Record<string, unknown>>> {
  const parties = makeParties(4);
  const book = new AddressBook();
  const children = new Map<string, FixtureProcess>();
  try {
    const honest = { mode: 'threshold-honest-vector', t: 2, length: L, roundMs: ROUND };
    for (const [i, id] of ['p4', 'p3', 'p2', 'p1'].entries()) {
      const child = spawnParty(FIXTURE, parties, id, book, { ...honest, input: 10 * (4 - i) }, ROUND);
      children.set(id, child);
      await child.waitFor('listening');
    }
    await children.get('p4')!.waitFor('joined');
    setTimeout(() => children.get('p4')!.child.kill('SIGSTOP'), freezeAtMs);
    const end = (id: string): Promise<Record<string, unknown>> => Promise.race([children.get(id)!.waitFor('result', 60_000), children.get(id)!.waitFor('failed', 60_000)]);
    const out = new Map<string, Record<string, unknown>>();
    for (const id of ['p1', 'p2', 'p3']) out.set(id, await end(id));
    await new Promise((r) => setTimeout(r, ROUND));
    children.get('p4')!.child.kill('SIGCONT');
    out.set('p4', await end('p4'));
    return out;
  } finally {
    for (const c of children.values()) {
      c.child.kill('SIGCONT');
      c.command({ cmd: 'exit' });
    }
    await Promise.all(
      [...children.values()].map(async (c) => {
        const timer = setTimeout(() => c.kill(), 3000);
        await c.exited;
        clearTimeout(timer);
      }),
    );
  }
}

test.each(cases([
  [4 * 2 ** 17, 0],
  [4 * 2 ** 17, 300],
  [4 * 2 ** 17, 550],
  [4 * 2 ** 17, 1000],
], (c) => c[1] === 0 || c[1] === 550))('thresholdSum n = 4, t = 2, L = %s: p4 stopped %s ms after joining and resumed after the others ended: the others complete, p4 names none of them', async (L, freezeAtMs) => {
  const out = await frozenThenResumed(L, freezeAtMs, 1000);
  const brief = [...out].map(([id, e]) => ({ id, type: e.type, code: e.code, peers: e.peers }));
  for (const id of ['p1', 'p2', 'p3']) expect(out.get(id)!.type).toBe('result');
  const p4 = brief.find((b) => b.id === 'p4')!;
  expect({ ...p4, peers: p4.peers ?? [] }).toEqual({ ...p4, peers: [] });
}, 120_000);
