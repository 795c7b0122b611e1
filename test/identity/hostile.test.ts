/**
 * The hostile-value table against every public function of identity/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertIdentity,
  createRoster,
  decodePublicKey,
  encodePublicKey,
  fingerprint,
  generateIdentity,
  loadIdentity,
  loadRoster,
  parseIdentity,
  parseRoster,
  rosterFromEnv,
  rosterToJSON,
  saveIdentity,
  serializeIdentity,
  type Identity,
} from '../../src/identity';
import { hostileSweep, secretSpellings, type HostileCase } from '../support/hostile';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coupler-hostile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const me = generateIdentity('me');
const secrets = secretSpellings([me.secretKey]);
const pk = encodePublicKey(generateIdentity().publicKey);
let n = 0;
const fresh = (): string => join(dir, `id-${n++}.key`);
const as = <T>(v: unknown): T => v as T;

const cases: HostileCase[] = [
  { name: 'generateIdentity(h)', call: (h) => generateIdentity(as(h)) },
  { name: 'assertIdentity(h)', call: (h) => assertIdentity(h) },
  { name: 'assertIdentity({publicKey: h, secretKey})', call: (h) => assertIdentity({ publicKey: h, secretKey: me.secretKey }) },
  { name: 'assertIdentity({publicKey, secretKey: h})', call: (h) => assertIdentity({ publicKey: me.publicKey, secretKey: h }) },
  { name: 'assertIdentity({id: h, ...})', call: (h) => assertIdentity({ id: h, publicKey: me.publicKey, secretKey: me.secretKey }) },
  { name: 'assertIdentity({}, name = h)', call: (h) => assertIdentity({}, as(h)) },
  { name: 'serializeIdentity(h)', call: (h) => serializeIdentity(as(h)) },
  { name: 'parseIdentity(h)', call: (h) => parseIdentity(as(h)) },
  { name: 'saveIdentity(h, me)', call: (h) => saveIdentity(as(h), me) },
  { name: 'saveIdentity(path, h)', call: (h) => saveIdentity(fresh(), as(h)) },
  { name: 'saveIdentity(path, me, h)', call: (h) => saveIdentity(fresh(), me, as(h)) },
  { name: 'saveIdentity(path, me, {overwrite: h})', call: (h) => saveIdentity(fresh(), me, { overwrite: as(h) }) },
  { name: 'loadIdentity(h)', call: (h) => loadIdentity(as(h)) },
  {
    name: 'loadIdentity(path, h)',
    call: async (h) => {
      const p = fresh();
      await saveIdentity(p, me);
      return loadIdentity(p, as(h));
    },
  },
  { name: 'fingerprint(h)', call: (h) => fingerprint(as(h)) },
  { name: 'encodePublicKey(h)', call: (h) => encodePublicKey(as(h)) },
  { name: 'decodePublicKey(h)', call: (h) => decodePublicKey(as(h)) },
  { name: 'createRoster(h)', call: (h) => createRoster(as(h)) },
  { name: 'createRoster([h])', call: (h) => createRoster([as(h)]) },
  { name: 'createRoster([{id: h, publicKey}])', call: (h) => createRoster([{ id: as(h), publicKey: pk }]) },
  { name: 'createRoster([{id, publicKey: h}])', call: (h) => createRoster([{ id: 'a', publicKey: as(h) }]) },
  { name: 'createRoster([{id, publicKey, address: h}])', call: (h) => createRoster([{ id: 'a', publicKey: pk, address: as(h) }]) },
  { name: 'parseRoster(h)', call: (h) => parseRoster(as(h)) },
  { name: 'parseRoster([h])', call: (h) => parseRoster([h]) },
  { name: 'parseRoster({version: h, parties})', call: (h) => parseRoster({ version: h, parties: [{ id: 'a', publicKey: pk }] }) },
  { name: 'parseRoster({parties: h})', call: (h) => parseRoster({ parties: h }) },
  { name: 'parseRoster([{id: "a", publicKey: pk, [h]: 1}])', call: (h) => parseRoster([{ id: 'a', publicKey: pk, [typeof h === 'symbol' ? h : String(typeof h === 'string' ? h.slice(0, 50) : typeof h)]: 1 }]) },
  { name: 'loadRoster(h)', call: (h) => loadRoster(as(h)) },
  { name: 'rosterFromEnv(h, {})', call: (h) => rosterFromEnv(as(h), {}) },
  { name: 'rosterFromEnv("X", h)', call: (h) => rosterFromEnv('X', as(h)) },
  { name: 'rosterFromEnv("X", {X: h})', call: (h) => rosterFromEnv('X', { X: as(h) }) },
  { name: 'rosterToJSON(h)', call: (h) => rosterToJSON(as(h)) },
];

it('every identity/ function survives the hostile table', async () => {
  const { violations, tally } = await hostileSweep(cases, { secrets });
  expect(violations).toEqual([]);
  expect(tally.coupler).toBeGreaterThan(cases.length * 10);
});

it('secret-looking inputs never come back in error messages', async () => {
  const ident: Identity = me;
  const b64Secret = Buffer.from(ident.secretKey).toString('base64');
  const seed = Buffer.from(ident.secretKey.subarray(0, 32)).toString('base64');
  const probes: HostileCase[] = [
    { name: 'decodePublicKey(secret)', call: () => decodePublicKey(b64Secret) },
    { name: 'createRoster publicKey = secret bytes', call: () => createRoster([{ id: 'a', publicKey: ident.secretKey }]) },
    { name: 'parseRoster publicKey = secret base64', call: () => parseRoster([{ id: 'a', publicKey: b64Secret }]) },
    { name: 'parseRoster publicKey = seed base64 in a wrong field', call: () => parseRoster([{ id: 'a', publicKey: pk, seed }]) },
    { name: 'parseIdentity with seed in publicKey', call: () => parseIdentity(JSON.stringify({ type: 'coupler-identity', version: 1, publicKey: seed, secretSeed: seed })) },
    { name: 'assertIdentity swapped keys', call: () => assertIdentity({ publicKey: ident.secretKey.subarray(0, 32), secretKey: ident.secretKey }) },
  ];
  const { violations, tally } = await hostileSweep(probes.map((p) => ({ name: p.name, call: () => p.call(undefined) })), { secrets });
  expect(violations).toEqual([]);
  expect(tally.ok).toBe(0);
});
