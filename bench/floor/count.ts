/**
 * What one round trip of the `floor` group layer does, counted (issue 18.1): timers, immediates,
 * socket writes and cipher objects per round trip, with both ends of a two-party group in this
 * process. A diagnostic, not a benchmark: the wrappers cost time.
 *
 *   node --import tsx bench/floor/count.ts [trips=2000] [size=300]
 *
 * @module
 */
import crypto from 'node:crypto';
import net from 'node:net';

const counts: Record<string, number> = {};
const bump = (k: string): void => {
  counts[k] = (counts[k] ?? 0) + 1;
};
type Fn = (...a: unknown[]) => unknown;
function wrap(obj: object, name: string, label = name): void {
  const o = obj as Record<string, Fn>;
  const orig = o[name]!;
  o[name] = function (this: unknown, ...a: unknown[]) {
    bump(label);
    return orig.apply(this, a);
  };
}
// Before the library is loaded, so its module-level references are the wrapped ones.
wrap(crypto, 'createCipheriv');
wrap(crypto, 'createDecipheriv');
wrap(globalThis, 'setTimeout');
wrap(globalThis, 'setImmediate');
wrap(globalThis, 'queueMicrotask');
wrap(net.Socket.prototype, '_writev', 'socket writev');
wrap(net.Socket.prototype, '_write', 'socket write');

async function main(): Promise<void> {
  const trips = Number(process.argv[2] ?? 2000);
  const size = Number(process.argv[3] ?? 300);
  const { AddressBook, joinLocal, makeParties } = await import('../../test/support/group-harness.js');
  const { groupEcho, groupPing } = await import('./layers.js');
  const parties = makeParties(2);
  const groups = await joinLocal(parties, parties.ids, new AddressBook(), { roundTimeoutMs: 60_000 });
  const echo = groupEcho(groups[1]!, (e) => console.error(e));
  const ping = groupPing(groups[0]!, size);
  const run = async (name: string): Promise<void> => {
    echo.expect(name, trips);
    for (let i = 0; i < trips; i++) await ping.trip(name, i);
    ping.endRun(name);
  };
  await run('warm');
  for (const k of Object.keys(counts)) counts[k] = 0;
  const before = groups[0]!.stats()[0]!;
  await run('counted');
  const after = groups[0]!.stats()[0]!;
  const per = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Number((v / trips).toFixed(2))]));
  console.log(
    JSON.stringify({
      perRoundTrip: per,
      channelMessagesSentPerTrip: (after.messagesSent - before.messagesSent) / trips,
      wireBytesSentPerTrip: (after.bytesSent - before.bytesSent) / trips,
    }),
  );
  await ping.close();
  await echo.close();
}
void main();
