/**
 * Rosters: parsing from objects, text, files and the environment; every error names the entry
 * (index or id) and the field at fault.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, RosterError } from '../../src/errors';
import {
  MAX_ROSTER_PARTIES,
  Roster,
  compareIds,
  createRoster,
  encodePublicKey,
  generateIdentity,
  loadRoster,
  parseRoster,
  rosterFromEnv,
  rosterToJSON,
} from '../../src/identity';

const keys = Array.from({ length: 4 }, () => generateIdentity().publicKey);
const k = (i: number): string => encodePublicKey(keys[i]!);

function rosterError(fn: () => unknown): RosterError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RosterError);
    expect((e as RosterError).code).toBe(ErrorCode.ROSTER_INVALID);
    return e as RosterError;
  }
  throw new Error('expected a RosterError');
}

describe('round trips', () => {
  it('createRoster -> rosterToJSON -> parseRoster keeps ids, keys, addresses; ids are canonical', () => {
    const r = createRoster([
      { id: 'zeta', publicKey: keys[0]! },
      { id: 10, publicKey: k(1), address: 'station-a:8888' },
      { id: '9', publicKey: keys[2]! },
      { id: 'alpha', publicKey: keys[3]! },
    ]);
    expect(r.ids).toEqual(['9', '10', 'alpha', 'zeta']);
    expect(r.size).toBe(4);
    const text = rosterToJSON(r);
    const back = parseRoster(text);
    expect(back.ids).toEqual(r.ids);
    for (const id of r.ids) {
      expect(Buffer.from(back.get(id)!.publicKey).equals(Buffer.from(r.get(id)!.publicKey))).toBe(true);
      expect(back.get(id)!.address).toBe(r.get(id)!.address);
    }
    expect(back.findByKey(keys[1]!)?.id).toBe('10');
    expect(back.verify('10', keys[1]!)).toBe(true);
    expect(back.verify('10', keys[0]!)).toBe(false);
    expect(back.verify('nope', keys[0]!)).toBe(false);
    expect(back.has('zeta')).toBe(true);
    expect(back.has('ZETA')).toBe(false);
  });

  it('accepts a bare array and the {version, parties} object, as text or object', () => {
    const parties = [
      { id: 'a', publicKey: k(0) },
      { id: 'b', publicKey: k(1) },
    ];
    for (const input of [parties, { version: 1, parties }, { parties }, JSON.stringify(parties), JSON.stringify({ version: 1, parties })]) {
      expect(parseRoster(input).ids).toEqual(['a', 'b']);
    }
  });

  it('is immutable and copies the keys it was given', () => {
    const pk = new Uint8Array(keys[0]!);
    const r = createRoster([{ id: 'a', publicKey: pk }]);
    pk[0]! ^= 1;
    expect(r.verify('a', keys[0]!)).toBe(true);
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.ids)).toBe(true);
  });

  it('compareIds orders numeric ids by value, then others by code unit', () => {
    expect(['b', '10', 'a', '2', '01'].sort(compareIds)).toEqual(['01', '2', '10', 'a', 'b']);
  });
});

describe('errors name the entry and field', () => {
  it('duplicate id', () => {
    const e = rosterError(() => parseRoster([{ id: 'a', publicKey: k(0) }, { id: 'a', publicKey: k(1) }]));
    expect(e.entry).toBe('a');
    expect(e.field).toBe('id');
    expect(e.message).toMatch(/entry 1/);
    expect(e.message).toMatch(/duplicate id/);
  });

  it('duplicate id where one is a number and the other its string', () => {
    const e = rosterError(() => createRoster([{ id: 7, publicKey: k(0) }, { id: '7', publicKey: k(1) }]));
    expect(e.entry).toBe('7');
    expect(e.field).toBe('id');
  });

  it('duplicate key names both parties', () => {
    const e = rosterError(() => parseRoster([{ id: 'a', publicKey: k(0) }, { id: 'b', publicKey: k(0) }]));
    expect(e.entry).toBe('b');
    expect(e.field).toBe('publicKey');
    expect(e.message).toMatch(/"a"/);
    expect(e.message).toMatch(/entry 1/);
  });

  it('duplicate key given once as base64 and once as bytes', () => {
    const e = rosterError(() => createRoster([{ id: 'a', publicKey: k(0) }, { id: 'b', publicKey: keys[0]! }]));
    expect(e.field).toBe('publicKey');
  });

  it('bad base64', () => {
    for (const bad of [`${k(0).slice(0, -2)}!=`, 'not base64 at all', '====']) {
      const e = rosterError(() => parseRoster([{ id: 'a', publicKey: k(1) }, { id: 'b', publicKey: bad }]));
      expect(e.entry).toBe('b');
      expect(e.field).toBe('publicKey');
      expect(e.message).toMatch(/entry 1/);
    }
  });

  it('31-byte key (as base64 and as bytes)', () => {
    const short = Buffer.alloc(31, 1).toString('base64');
    const e1 = rosterError(() => parseRoster([{ id: 'a', publicKey: short }]));
    expect([e1.entry, e1.field]).toEqual(['a', 'publicKey']);
    expect(e1.message).toMatch(/31/);
    const e2 = rosterError(() => createRoster([{ id: 'a', publicKey: new Uint8Array(31) }]));
    expect([e2.entry, e2.field]).toEqual(['a', 'publicKey']);
    expect(e2.message).toMatch(/31/);
  });

  it('unknown field', () => {
    const e = rosterError(() => parseRoster([{ id: 'a', publicKey: k(0), secretSeed: 'x' }]));
    expect(e.entry).toBe('a');
    expect(e.field).toBe('secretSeed');
  });

  it('missing or malformed id and key', () => {
    const e1 = rosterError(() => parseRoster([{ publicKey: k(0) }]));
    expect([e1.entry, e1.field]).toEqual(['0', 'id']);
    const e2 = rosterError(() => parseRoster([{ id: 'a', publicKey: k(0) }, { id: 'has space', publicKey: k(1) }]));
    expect([e2.entry, e2.field]).toEqual(['1', 'id']);
    const e3 = rosterError(() => parseRoster([{ id: 'a' }]));
    expect([e3.entry, e3.field]).toEqual(['a', 'publicKey']);
    const e4 = rosterError(() => parseRoster([{ id: -1, publicKey: k(0) }]));
    expect([e4.entry, e4.field]).toEqual(['0', 'id']);
    const e5 = rosterError(() => parseRoster([{ id: 'a', publicKey: k(0), address: 'has space:1' }]));
    expect([e5.entry, e5.field]).toEqual(['a', 'address']);
  });

  it('non-object entry', () => {
    for (const bad of [null, 'a', 3, [], true]) {
      const e = rosterError(() => parseRoster([{ id: 'a', publicKey: k(0) }, bad]));
      expect(e.entry).toBe('1');
      expect(e.message).toMatch(/entry 1/);
    }
  });

  it(`more than ${MAX_ROSTER_PARTIES} parties`, () => {
    const many = Array.from({ length: MAX_ROSTER_PARTIES + 1 }, (_, i) => ({ id: String(i), publicKey: k(0) }));
    const e = rosterError(() => parseRoster(many));
    expect(e.message).toMatch(/1001/);
    // Exactly the maximum is fine (distinct keys; not the all-zero encoding, a point of small order: review12 R12-1).
    const ok = Array.from({ length: MAX_ROSTER_PARTIES }, (_, i) => {
      const pk = new Uint8Array(32);
      new DataView(pk.buffer).setUint32(0, i + 1);
      return { id: String(i), publicKey: pk };
    });
    expect(createRoster(ok).size).toBe(MAX_ROSTER_PARTIES);
  });

  it('empty roster, wrong version, missing parties, bad JSON', () => {
    rosterError(() => parseRoster([]));
    expect(rosterError(() => parseRoster({ version: 2, parties: [] })).field).toBe('version');
    expect(rosterError(() => parseRoster({ version: 1 })).field).toBe('parties');
    rosterError(() => parseRoster('{"parties": ['));
    rosterError(() => parseRoster('null'));
    rosterError(() => parseRoster('"text"'));
  });
});

describe('sources', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coupler-roster-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loadRoster reads a file; a missing file is a RosterError', async () => {
    const r = createRoster([{ id: 'a', publicKey: keys[0]! }]);
    const path = join(dir, 'roster.json');
    await writeFile(path, rosterToJSON(r));
    expect((await loadRoster(path)).ids).toEqual(['a']);
    await expect(loadRoster(join(dir, 'missing.json'))).rejects.toBeInstanceOf(RosterError);
    await writeFile(path, '[{"id": "a", "publicKey": "short"}]');
    const err = (await loadRoster(path).catch((e: unknown) => e)) as RosterError;
    expect(err).toBeInstanceOf(RosterError);
    expect(err.field).toBe('publicKey');
  });

  it('rosterFromEnv reads JSON and base64 JSON, from a given env or process.env', () => {
    const r = createRoster([
      { id: '1', publicKey: keys[0]! },
      { id: '2', publicKey: keys[1]! },
    ]);
    const json = rosterToJSON(r);
    expect(rosterFromEnv('COUPLER_ROSTER', { COUPLER_ROSTER: json }).ids).toEqual(['1', '2']);
    expect(rosterFromEnv('X', { X: `  ${json}  ` }).ids).toEqual(['1', '2']);
    expect(rosterFromEnv('X', { X: JSON.stringify(r.toJSON().parties) }).ids).toEqual(['1', '2']);
    expect(rosterFromEnv('X', { X: Buffer.from(json).toString('base64') }).ids).toEqual(['1', '2']);
    const saved = process.env.COUPLER_ROSTER;
    process.env.COUPLER_ROSTER = Buffer.from(json).toString('base64');
    try {
      expect(rosterFromEnv().ids).toEqual(['1', '2']);
    } finally {
      if (saved === undefined) delete process.env.COUPLER_ROSTER;
      else process.env.COUPLER_ROSTER = saved;
    }
  });

  it('rosterFromEnv: missing, blank and garbage variables are RosterErrors naming the variable', () => {
    expect(rosterError(() => rosterFromEnv('MY_ROSTER', {})).message).toMatch(/MY_ROSTER/);
    expect(rosterError(() => rosterFromEnv('MY_ROSTER', { MY_ROSTER: '   ' })).message).toMatch(/MY_ROSTER/);
    rosterError(() => rosterFromEnv('X', { X: 'bm90IGpzb24=' }));
    rosterError(() => rosterFromEnv('X', { X: '%%%' }));
    const e = rosterError(() => rosterFromEnv('X', { X: Buffer.from('[{"id":"a","publicKey":"AA=="}]').toString('base64') }));
    expect(e.field).toBe('publicKey');
  });

  it('rosterToJSON refuses a non-roster', () => {
    expect(() => rosterToJSON({} as Roster)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
