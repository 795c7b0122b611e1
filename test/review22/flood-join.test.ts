/**
 * review22: does a stranger's flood of failed handshakes (R22-1's kind: upgrade, garbage hello, a
 * cut 200 KiB frame, never close) stop or delay an honest group from forming? The flood runs as its
 * own process (test/review22/_flood.cjs) from 40 loopback sources against every party's port;
 * four parties join with their roster addresses, the fourth 3 s after the others (so three
 * listeners are under the flood that long). Measured: formation time, the most file
 * descriptors this process (the three listeners and parties) held, its RSS.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort as freePortOn } from '../../src/cli/ports';
import type { CouplerError } from '../../src/errors';
import { joinGroup, type Group } from '../../src/group/group';
import { createRoster } from '../../src/identity/roster';
import { makeParties } from '../support/group-harness';

test('held: four parties form under a flood of failed handshakes on every port (40 sources × 300 loops each), the last joining 3 s late', async () => {
  const parties = makeParties(4);
  const ports = await Promise.all(parties.ids.map(() => freePortOn('127.0.0.1')));
  const roster = createRoster(parties.ids.map((id, i) => ({ id, publicKey: parties.identities.get(id)!.publicKey, address: `127.0.0.1:${ports[i]}` })));
  const fds0 = readdirSync('/proc/self/fd').length;
  const rss0 = process.memoryUsage().rss;
  let maxFds = fds0;
  let maxRss = rss0;
  const sampler = setInterval(() => {
    maxFds = Math.max(maxFds, readdirSync('/proc/self/fd').length);
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 100);
  const flood = spawn(process.execPath, [join(__dirname, '_flood.cjs'), ports.join(','), '40', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let floodOut = '';
  flood.stdout!.on('data', (d: Buffer) => (floodOut += d.toString()));
  const groups: Group[] = [];
  try {
    // The flood starts before anyone listens (connections refused) and keeps going while they join.
    await new Promise((r) => setTimeout(r, 500));
    let t0 = Date.now();
    const joined = await Promise.allSettled(
      parties.ids.map(async (id, i) => {
        // Three listen under the flood for 3 s before the last party starts.
        if (i === 3) {
          await new Promise((r) => setTimeout(r, 3_000));
          t0 = Date.now();
        }
        return joinGroup({
          identity: parties.identities.get(id)!,
          roster,
          sessionId: parties.sessionId,
          listen: { host: '127.0.0.1', port: ports[i]! },
          timeoutMs: 20_000,
          dialBackoff: { initialMs: 20, maxMs: 200 },
        });
      }),
    );
    const ms = Date.now() - t0;
    for (const r of joined) if (r.status === 'fulfilled') groups.push(r.value);
    const outcome = joined.map((r) => (r.status === 'fulfilled' ? 'joined' : `${(r.reason as CouplerError).code} ${JSON.stringify((r.reason as CouplerError).peers)}`));
    const lines = floodOut.trim().split('\n');
    console.log(
      `flood-join: ${JSON.stringify(outcome)}, ${ms} ms after the last party started; flood ${lines.at(-1)}; this process: fds ${fds0} → max ${maxFds}, RSS ${rss0 >> 20} → max ${maxRss >> 20} MiB`,
    );
    expect(outcome).toEqual(['joined', 'joined', 'joined', 'joined']);
  } finally {
    clearInterval(sampler);
    flood.kill('SIGTERM');
    await Promise.all(groups.map((g) => g.close()));
  }
}, 60_000);
