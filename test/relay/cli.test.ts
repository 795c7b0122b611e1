/** `coupler relay` as a real process: parties form a group and sum through it; SIGTERM stops it cleanly. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { rosterToJSON } from '../../src/identity/roster';
import { secureSum } from '../../src/protocols';
import { makeParties } from '../support/group-harness';
import { joinAll } from './_relay';

jest.setTimeout(60_000);

test('coupler relay serves a group, prints counters and exits 0 on SIGTERM', async () => {
  const parties = makeParties(3);
  const dir = mkdtempSync(join(tmpdir(), 'coupler-relay-'));
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(rosterFile, rosterToJSON(parties.roster));
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../src/cli/main.ts'), 'relay', '--roster', rosterFile, '--host', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout! });
  try {
    const port = await new Promise<number>((res, rej) => {
      const t = setTimeout(() => rej(new Error('relay did not start')), 30_000);
      rl.on('line', (l) => {
        lines.push(l);
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(l);
        if (m) {
          clearTimeout(t);
          res(Number(m[1]));
        }
      });
    });
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: `ws://127.0.0.1:${port}` }));
    const out = await Promise.all(groups.map((g, i) => secureSum(g, [i, 1])));
    await Promise.all(groups.map((g) => g.close()));
    for (const o of out) expect(Array.from(o.sum as Float64Array)).toEqual([3, 3]);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stats = lines.find((l) => l.includes('stats'));
    expect(stats).toBeDefined();
    const s = JSON.parse(stats!.slice(stats!.indexOf('{'))) as { bytesForwarded: number; messagesForwarded: number };
    expect(s.bytesForwarded).toBeGreaterThan(0);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
