/**
 * Node 20 deadlocks in `KeyObject.export({ format: 'jwk' })` of a key made by
 * `generateKeyPairSync('x25519')` when a garbage collection during the export runs the finished
 * key-generation job's destructor, which takes the key's lock the export holds (gdb: ExportJWKEdKey
 * → GC → ~KeyGenJob → uv_mutex_lock). The channel's ephemeral keys were made exactly so: a party's
 * process could hang for good in a handshake (a jest worker of the suite did, 15:43 today). Node
 * 24 and 26 do not. The JWK is now encoded inside the generation job, while it is alive.
 *
 * A child process makes ephemeral keys in a loop with a tiny young generation (a GC every few
 * keys); before, it stopped making progress within about 100 000 keys.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

test('150 000 ephemeral X25519 keys in a row under constant GC pressure: no deadlock (Node 20 hung in the JWK export)', async () => {
  const suite = resolve(__dirname, '../../src/channel/suite.ts');
  const script = `import(${JSON.stringify(suite)}).then((m) => { const s = (m.getSuite ?? m.default.getSuite)('native'); const junk = []; for (let i = 0; i < 150000; i++) { if (s.ephemeral().publicKey.length !== 32) process.exit(2); junk.push(new Array(50).fill(i)); if (junk.length > 2000) junk.length = 0; } console.log('done'); });`;
  const child = spawn(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(timer);
  expect({ code, out: out.trim() }).toEqual({ code: 0, out: 'done' });
}, 60_000);
