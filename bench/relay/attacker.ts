/**
 * The outsider of `relay-attacks`, in its own process (so that its sockets and writes do not
 * slow the real task's parties in the bench process): runs one attack against a relay, prints
 * `ready <outcome>` on stdout once it is in place, and holds it until SIGTERM.
 *
 *   node --import tsx bench/relay/attacker.ts <relay url> <a|b|c|d|e> <member identity JSON file> [--quick]
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type WebSocket from 'ws';
import { parseIdentity } from '../../src/identity/identity';
import { admitRaw, openRaw, selfPair, type RawAdmission } from '../../test/relay/_attack';

const SOURCES = [2, 3, 4, 5, 6, 7, 8, 9].map((i) => `127.0.0.${i}`);

async function main(): Promise<void> {
  const [url, attack, memberFile, ...rest] = process.argv.slice(2);
  if (url === undefined || attack === undefined || memberFile === undefined) throw new Error('usage: attacker.ts <url> <a|b|c|d|e> <member identity file> [--quick]');
  const quick = rest.includes('--quick');
  const member = parseIdentity(readFileSync(memberFile, 'utf8'));
  const held: WebSocket[] = [];
  let stopped = false;
  const keep = (xs: RawAdmission[]): RawAdmission[] => {
    for (const a of xs) held.push(a.ws);
    return xs;
  };
  const tally = new Map<string, number>();
  const note = (a: RawAdmission): void => {
    const k = a.answer.reason ?? a.answer.t;
    tally.set(k, (tally.get(k) ?? 0) + 1);
  };
  const scale = quick ? 4 : 1;
  let extra = '';
  if (attack === 'a') {
    for (const src of SOURCES) for (let i = 0; i < 32 / scale; i++) for (const a of keep(await selfPair(url, src))) note(a);
  } else if (attack === 'b') {
    for (let i = 0; i < 256 / scale; i++) note(keep([await admitRaw(url, `squat-${i}`, member, 'm2', SOURCES[0]!)])[0]!);
  } else if (attack === 'c') {
    let opened = 0;
    const open = async (src: string, n: number): Promise<void> => {
      for (let i = 0; i < n; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => openRaw(url, src).catch(() => undefined)));
        for (const ws of batch) {
          if (ws === undefined) continue;
          opened++;
          held.push(ws);
          ws.on('error', () => undefined);
        }
      }
    };
    await open(SOURCES[0]!, 4000 / scale);
    await Promise.all(SOURCES.map((src) => open(src, 500 / scale)));
    await new Promise((res) => setTimeout(res, 2000));
    extra = `${4000 / scale + 8 * (500 / scale)} tried, ${opened} opened, ${held.filter((ws) => ws.readyState === ws.OPEN).length} still open after 2 s (the rest evicted: busy, or cut before the upgrade)`;
  } else if (attack === 'd') {
    const chunk = Buffer.alloc(256 * 1024, 7);
    for (const src of SOURCES) {
      for (let i = 0; i < 16 / (quick ? 2 : 1); i++) {
        const pair = keep(await selfPair(url, src));
        for (const a of pair) note(a);
        if (pair.length !== 2 || pair[1]!.answer.t !== 'admitted') continue;
        const [w, r] = pair as [RawAdmission, RawAdmission];
        r.ws.pause(); // never reads
        const write = (): void => {
          if (stopped || w.ws.readyState !== w.ws.OPEN) return;
          if (w.texts.some((t) => t.includes('paired')) && w.ws.bufferedAmount < 2 * chunk.length) w.ws.send(chunk);
          setTimeout(write, 5);
        };
        write();
      }
    }
    await new Promise((res) => setTimeout(res, 3000)); // every writer fills its path
  } else if (attack === 'e') {
    const total = quick ? 800 : 4000;
    await Promise.all(
      SOURCES.map(async (src) => {
        for (let i = 0; i < total / SOURCES.length; i++) {
          const a = await admitRaw(url, `churn-${src}-${i}`, member, 'm2', src);
          note(a);
          a.ws.terminate();
        }
      }),
    );
  } else throw new Error(`unknown attack ${attack}`);
  const outcome = [...[...tally].map(([k, v]) => `${k} ${v}`), extra].filter((s) => s !== '').join(', ');
  process.stdout.write(`ready ${outcome}\n`);
  // Hold the attack until told to stop (a timer keeps the process alive when no socket is left).
  const alive = setInterval(() => undefined, 60_000);
  await new Promise<void>((res) => process.once('SIGTERM', () => res()));
  clearInterval(alive);
  stopped = true;
  for (const ws of held) ws.terminate();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`attacker: ${(err as Error).message}\n`);
  process.exit(1);
});
