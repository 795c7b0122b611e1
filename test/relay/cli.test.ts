/** `coupler relay` as a real process: parties form a group and sum through it; SIGTERM stops it cleanly. */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { rosterToJSON } from '../../src/identity/roster';
import { secureSum } from '../../src/protocols';
import { makeParties } from '../support/group-harness';
import { joinAll } from './_relay';

jest.setTimeout(60_000);

const until = async (cond: () => Promise<boolean>): Promise<void> => {
  while (!(await cond())) await new Promise((res) => setTimeout(res, 50));
};
const cli = resolve(__dirname, '../../src/cli/main.ts');

test('coupler relay on a wildcard host without --public-url refuses to start, and says what to give', async () => {
  const parties = makeParties(2);
  const dir = mkdtempSync(join(tmpdir(), 'coupler-relay-'));
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(rosterFile, rosterToJSON(parties.roster));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'relay', '--roster', rosterFile, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    // fails before this change: it started, signing for ws://0.0.0.0:8889 and admitting nobody.
    expect(code).toBe(1);
    expect(err).toMatch(/needs --public-url/);
    expect(err).toMatch(/ws:\/\/0\.0\.0\.0:0 is not one they can dial/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('coupler relay serves a group, prints counters and exits 0 on SIGTERM', async () => {
  const parties = makeParties(3);
  const dir = mkdtempSync(join(tmpdir(), 'coupler-relay-'));
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(rosterFile, rosterToJSON(parties.roster));
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'relay', '--roster', rosterFile, '--host', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const lines: string[] = [];
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
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
    // Probes and metrics on the relay's own port.
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    await until(async () => /coupler_relay_sessions_ended_total 1/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^coupler_relay_admissions_total 6$/m);
    expect(metrics).toMatch(/^coupler_relay_forwarded_bytes_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^coupler_relay_refusals_total\{reason="bad-signature"\} 0$/m);
    expect(metrics).toMatch(/^# TYPE coupler_relay_connections gauge$/m);
    // fails before this change: the relay logged nothing on admission or session end.
    expect(logs.filter((l) => l.includes(' session ') || l.includes('session ended'))).toEqual([
      expect.stringMatching(new RegExp(`^\\[coupler relay\\] session ${parties.sessionId} roster [0-9a-f]{12}: p\\d -> p\\d from 127\\.0\\.0\\.1$`)),
      expect.stringMatching(new RegExp(`^\\[coupler relay\\] session ended ${parties.sessionId} roster [0-9a-f]{12} \\(closed\\): [1-9]\\d* bytes in \\d+\\.\\d s, sources 127\\.0\\.0\\.1$`)),
    ]);
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

test('coupler relay --tls-cert/--tls-key serves wss:// and https /healthz; one without the other is refused', async () => {
  const parties = makeParties(2);
  const dir = mkdtempSync(join(tmpdir(), 'coupler-relay-tls-'));
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(rosterFile, rosterToJSON(parties.roster));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=relay', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'relay', '--roster', rosterFile, '--host', '127.0.0.1', '--port', '0', '--tls-cert', cert, '--tls-key', key], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error('relay did not start')), 30_000);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.includes('listening')) {
          clearTimeout(t);
          res(l);
        }
      });
    });
    const port = Number(/127\.0\.0\.1:(\d+) \(TLS\) as wss:\/\/127\.0\.0\.1:\1/.exec(line)?.[1]);
    expect(port).toBeGreaterThan(0);
    const body = await new Promise<string>((res, rej) => {
      httpsGet({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(cert) }, (r) => {
        let b = '';
        r.on('data', (d: Buffer) => (b += d.toString()));
        r.on('end', () => res(`${r.statusCode} ${b}`));
      }).on('error', rej);
    });
    expect(body).toBe('200 ok\n');
  } finally {
    child.kill('SIGKILL');
  }
  const half = spawn(process.execPath, ['--import', 'tsx', cli, 'relay', '--roster', rosterFile, '--host', '127.0.0.1', '--tls-cert', cert], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  half.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  expect(await new Promise((r) => half.on('exit', r))).toBe(1);
  expect(err).toMatch(/--tls-cert and --tls-key go together/);
  rmSync(dir, { recursive: true, force: true });
});
