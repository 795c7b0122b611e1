/**
 * Files a party reads by path — its identity, the roster, the relay's CA and TLS files, the
 * container token, the station's data — may be something other than a regular file at the moment
 * they are opened: a FIFO with no writer (planted in a shared folder, or a mistake in a mount) made
 * an open or read wait for ever, with no deadline. `loadRoster` and the Parquet reader opened
 * without looking; `dialRelay` read the CA file synchronously on every dial (the whole event loop
 * waited); the others looked first (`stat`) and read by path after, so a FIFO swapped in between
 * still hung them. Each case runs in a child process that must answer within 10 s.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
let dir: string;
let fifo: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-fifo-'));
  fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run `body` (an expression returning a promise, with `F` the FIFO's path) in a child; its outcome. */
function outcome(body: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const script = `
const F = ${JSON.stringify(fifo)};
(async () => ${body})().then(
  () => console.log('ok'),
  (e) => console.log(e && typeof e.code === 'string' && e.code.startsWith('COUPLER_ERR_') ? e.code : 'untyped ' + String(e && e.message)),
);`;
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done(signal === 'SIGKILL' ? 'hung' : out.trim() || `exit ${code}`);
    });
  });
}

jest.setTimeout(60_000);

test.each([
  ['loadRoster', `require('./src/identity/roster').loadRoster(F)`, 'COUPLER_ERR_ROSTER_INVALID'],
  ['readParquetFile', `require('./src/vantage6').readParquetFile(F)`, 'COUPLER_ERR_VALUE_INVALID'],
  ['dialRelay with COUPLER_RELAY_CA', `require('./src/relay/dial').dialRelay('ws://127.0.0.1:9', { env: { COUPLER_RELAY_CA: F } })`, 'COUPLER_ERR_INVALID_ARGUMENT'],
  ['loadIdentity', `require('./src/identity/identity').loadIdentity(F)`, 'COUPLER_ERR_IDENTITY_INVALID'],
  ['readCsvFile', `require('./src/vantage6').readCsvFile(F)`, 'COUPLER_ERR_VALUE_INVALID'],
])('%s on a FIFO with no writer: a typed refusal at once, no wait', async (_name, body, code) => {
  expect(await outcome(body)).toBe(code);
});
