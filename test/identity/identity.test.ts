/**
 * Identities: generation, file format round trips, 0600 files, the insecure-permissions warning,
 * tampered files, fingerprints, public-key encoding.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CouplerError, ErrorCode, IdentityError, InvalidArgumentError } from '../../src/errors';
import {
  assertIdentity,
  decodePublicKey,
  encodePublicKey,
  fingerprint,
  generateIdentity,
  loadIdentity,
  parseIdentity,
  saveIdentity,
  serializeIdentity,
  type Identity,
} from '../../src/identity';
import { ed25519KeyPairFromSeed } from '../../src/crypto/ed25519';
import { testIdentity } from '../support/identity';
import nacl from 'tweetnacl';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coupler-id-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const secretsOf = (ident: Identity): string[] => {
  const seed = ident.secretKey.subarray(0, 32);
  return [b64(seed), Buffer.from(seed).toString('hex'), b64(ident.secretKey), Buffer.from(ident.secretKey).toString('hex')];
};
function expectNoSecret(err: unknown, ident: Identity): void {
  const text = `${(err as Error).message} ${String(err)} ${(err as { cause?: Error }).cause?.message ?? ''}`;
  for (const s of secretsOf(ident)) expect(text).not.toContain(s);
}

describe('generateIdentity', () => {
  it('creates distinct, consistent key pairs', () => {
    const a = generateIdentity('org-1');
    const b = generateIdentity();
    expect(a.id).toBe('org-1');
    expect(b.id).toBeUndefined();
    expect(a.publicKey).toHaveLength(32);
    expect(a.secretKey).toHaveLength(64);
    expect(Buffer.from(a.secretKey.subarray(32)).equals(Buffer.from(a.publicKey))).toBe(true);
    expect(Buffer.from(a.publicKey).equals(Buffer.from(b.publicKey))).toBe(false);
    expect(assertIdentity(a)).toBe(a);
  });

  it('refuses a malformed id', () => {
    for (const id of ['', 'a b', 'x'.repeat(65), 'é', 'a/b']) {
      const err = (() => {
        try {
          generateIdentity(id);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    }
  });
});

describe('testIdentity (test/support/identity.ts, the other suites\' parties)', () => {
  it('is the key pair generateIdentity derives from the same seed — and both are tweetnacl\'s — and a valid identity', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const t = testIdentity('p1', seed);
        const kp = ed25519KeyPairFromSeed(seed);
        // The reference: tweetnacl's own derivation (ed25519KeyPairFromSeed derives natively).
        const ref = nacl.sign.keyPair.fromSeed(seed);
        for (const k of [t, kp]) {
          expect(Buffer.from(k.publicKey).equals(Buffer.from(ref.publicKey))).toBe(true);
          expect(Buffer.from(k.secretKey).equals(Buffer.from(ref.secretKey))).toBe(true);
        }
        expect(assertIdentity(t)).toBe(t);
      }),
      { numRuns: 20 },
    );
    expect(Buffer.from(testIdentity('p1').publicKey).equals(Buffer.from(testIdentity('p1').publicKey))).toBe(false);
  });
});

describe('assertIdentity', () => {
  it('refuses a public key that does not match the secret key', () => {
    const a = generateIdentity('a');
    const b = generateIdentity('b');
    const mixed = { id: 'a', publicKey: b.publicKey, secretKey: a.secretKey };
    expect(() => assertIdentity(mixed)).toThrow(InvalidArgumentError);
    // Secret key whose second half (the embedded public key) is wrong.
    const sk = new Uint8Array(a.secretKey);
    sk[40]! ^= 1;
    expect(() => assertIdentity({ publicKey: a.publicKey, secretKey: sk })).toThrow(InvalidArgumentError);
    try {
      assertIdentity(mixed);
    } catch (e) {
      expectNoSecret(e, a);
    }
  });
});

describe('identity file', () => {
  it('round trips through serialize/parse (with and without id)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.option(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), { nil: undefined }), (seed, id) => {
        const kp = ed25519KeyPairFromSeed(seed);
        const ident: Identity = id === undefined ? kp : { id, ...kp };
        const text = serializeIdentity(ident);
        const back = parseIdentity(text);
        expect(back.id).toBe(id);
        expect(Buffer.from(back.publicKey).equals(Buffer.from(kp.publicKey))).toBe(true);
        expect(Buffer.from(back.secretKey).equals(Buffer.from(kp.secretKey))).toBe(true);
        const json = JSON.parse(text) as Record<string, unknown>;
        expect(json.type).toBe('coupler-identity');
        expect(json.version).toBe(1);
        expect(Object.keys(json).sort()).toEqual(id === undefined ? ['publicKey', 'secretSeed', 'type', 'version'] : ['id', 'publicKey', 'secretSeed', 'type', 'version']);
      }),
      { numRuns: 30 },
    );
  });

  it('saves with mode 0600 and loads it back without a warning', async () => {
    const me = generateIdentity('org-7');
    const path = join(dir, 'me.key');
    await saveIdentity(path, me);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const warned: number[] = [];
    const back = await loadIdentity(path, { onInsecurePermissions: (_p, mode) => warned.push(mode) });
    expect(warned).toEqual([]);
    expect(back.id).toBe('org-7');
    expect(Buffer.from(back.secretKey).equals(Buffer.from(me.secretKey))).toBe(true);
  });

  it('is 0600 even when overwriting a 0644 file, and refuses to overwrite by default', async () => {
    const path = join(dir, 'me.key');
    await writeFile(path, 'old', { mode: 0o644 });
    await chmod(path, 0o644);
    const err = await saveIdentity(path, generateIdentity()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityError);
    expect(await readFile(path, 'utf8')).toBe('old');
    await saveIdentity(path, generateIdentity(), { overwrite: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('warns (through onInsecurePermissions) when the file is group/world readable', async () => {
    const me = generateIdentity();
    const path = join(dir, 'me.key');
    await saveIdentity(path, me);
    for (const mode of [0o644, 0o640, 0o604]) {
      await chmod(path, mode);
      const warned: [string, number][] = [];
      const back = await loadIdentity(path, { onInsecurePermissions: (p, m) => warned.push([p, m]) });
      expect(warned).toEqual([[path, mode]]);
      expect(Buffer.from(back.publicKey).equals(Buffer.from(me.publicKey))).toBe(true);
    }
  });

  it('emits a process warning with code COUPLER_INSECURE_KEY_FILE when no callback is given', async () => {
    const path = join(dir, 'me.key');
    await saveIdentity(path, generateIdentity());
    await chmod(path, 0o644);
    // jest's sandboxed `process` does not forward 'warning' events, so watch emitWarning itself.
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await loadIdentity(path);
      expect(spy).toHaveBeenCalledTimes(1);
      const [message, options] = spy.mock.calls[0]! as unknown as [string, { code?: string }];
      expect(options.code).toBe('COUPLER_INSECURE_KEY_FILE');
      expect(message).toMatch(/644/);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a tampered file (publicKey not derived from the seed) without printing the seed', async () => {
    const me = generateIdentity('a');
    const other = generateIdentity();
    const json = JSON.parse(serializeIdentity(me)) as Record<string, unknown>;
    json.publicKey = b64(other.publicKey);
    const path = join(dir, 'tampered.key');
    await writeFile(path, JSON.stringify(json), { mode: 0o600 });
    const err = await loadIdentity(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityError);
    expect((err as CouplerError).code).toBe(ErrorCode.IDENTITY_INVALID);
    expect((err as Error).message).toMatch(/publicKey/);
    expectNoSecret(err, me);
  });

  it('refuses malformed files naming the field, never the secret', () => {
    const me = generateIdentity('a');
    const good = JSON.parse(serializeIdentity(me)) as Record<string, unknown>;
    const cases: [Record<string, unknown> | string, RegExp][] = [
      ['not json', /JSON/],
      ['[]', /object/],
      [{ ...good, type: 'other' }, /type/],
      [{ ...good, version: 2 }, /version/],
      [{ ...good, id: 'a b' }, /id/],
      [{ ...good, secretSeed: 'AAAA' }, /secretSeed/],
      [{ ...good, secretSeed: `${good.secretSeed as string}!` }, /secretSeed/],
      [{ ...good, publicKey: 'A'.repeat(43) }, /publicKey/],
      [{ ...good, secretSeed: undefined }, /secretSeed/],
      ['x'.repeat(70_000), /too large/],
    ];
    for (const [input, re] of cases) {
      let err: unknown;
      try {
        parseIdentity(typeof input === 'string' ? input : JSON.stringify(input));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IdentityError);
      expect((err as Error).message).toMatch(re);
      expectNoSecret(err, me);
    }
  });

  it('loadIdentity refuses a missing file and a directory with IdentityError', async () => {
    await expect(loadIdentity(join(dir, 'nope'))).rejects.toBeInstanceOf(IdentityError);
    await expect(loadIdentity(dir)).rejects.toBeInstanceOf(IdentityError);
  });
});

describe('fingerprint and public key encoding', () => {
  it('fingerprint is SHA256: and 8 colon-separated groups of 4 hex digits, stable and key-specific', () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const fa = fingerprint(a.publicKey);
    expect(fa).toMatch(/^SHA256:[0-9a-f]{4}(?::[0-9a-f]{4}){7}$/);
    expect(fingerprint(new Uint8Array(a.publicKey))).toBe(fa);
    expect(fingerprint(b.publicKey)).not.toBe(fa);
    // Known answer: the RFC 8032 TEST 1 public key.
    const pk = new Uint8Array(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'));
    const digest = require('node:crypto').createHash('sha256').update(pk).digest('hex') as string;
    expect(fingerprint(pk)).toBe(`SHA256:${digest.slice(0, 32).match(/.{4}/g)!.join(':')}`);
  });

  it('encodePublicKey/decodePublicKey round trip, standard and URL-safe base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (pk) => {
        const text = encodePublicKey(pk);
        expect(Buffer.from(decodePublicKey(text)).equals(Buffer.from(pk))).toBe(true);
        const url = Buffer.from(pk).toString('base64url');
        expect(Buffer.from(decodePublicKey(url)).equals(Buffer.from(pk))).toBe(true);
        expect(Buffer.from(decodePublicKey(`  ${text}\n`)).equals(Buffer.from(pk))).toBe(true);
      }),
    );
  });

  it('decodePublicKey refuses wrong lengths and non-base64', () => {
    for (const bad of ['', 'A'.repeat(42), b64(new Uint8Array(31)), b64(new Uint8Array(33)), `${b64(new Uint8Array(32)).slice(0, -1)}*`, 'AA==AA==']) {
      expect(() => decodePublicKey(bad)).toThrow(InvalidArgumentError);
    }
  });
});
