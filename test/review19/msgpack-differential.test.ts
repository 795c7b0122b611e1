/**
 * review19 T1/T2 (held): the fast round-message decoder and the general path read hostile
 * msgpack the same, and so do two receivers of which one has msgpackr's native string extractor
 * and the other not (a container without the prebuilt addon): one signed byte string, one value.
 * The messages are those perf18's agreement test does not generate (hostile-msgpack.ts).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { digest, fast, general, generator } from './hostile-msgpack';

jest.setTimeout(120_000);

test('decodeRoundMessage reads what decodeMessageCost reads, and fails as it fails, on 20 000 hostile messages', () => {
  let taken = 0;
  let refused = 0;
  for (const seed of [1, 2, 3, 4]) {
    const next = generator(seed);
    for (let i = 0; i < 5000; i++) {
      const m = next();
      const f = fast(m);
      const g = general(m);
      expect(f).toBeDefined(); // every message here is a round message in the encoder's shape
      expect(f).toEqual(g);
      taken++;
      if ('err' in g) refused++;
    }
  }
  expect(taken).toBe(20_000);
  // Some are refused (keys that collide once decoded), most are read.
  expect(refused).toBeGreaterThan(0);
  expect(refused).toBeLessThan(taken / 2);
});

test('a receiver without the native string extractor reads the same values (digest across processes)', () => {
  const script = path.join(__dirname, 'hostile-msgpack.ts');
  const run = (env: Record<string, string>): { native: boolean; digest: string } => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, '7', '4000'], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 100_000 });
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { native: boolean; digest: string };
  };
  const withNative = run({});
  const without = run({ MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' });
  expect(without.native).toBe(false);
  expect(withNative.digest).toBe(without.digest);
  expect(withNative.digest).toBe(digest(7, 4000)); // and this process reads them so too
});
