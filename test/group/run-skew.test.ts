/**
 * Parties whose code runs different sequences of runs (R21-4: an image that calls joinPeerGroup's
 * `agreeOn`, which takes run id `v6-input.1`, beside an older one whose first sum takes `sum.1`).
 * The station in `sum.1` reaches its deadline and probes the others; they are alive, in their own
 * run under the same counter, and — between rounds, or just after their own run failed — wait for
 * nobody. Read as "alive and waiting for nobody", they were named TIMEOUT for withholding a run they
 * never started (under load, 3 of about 25 runs of test/review21/agree-on-skew.test.ts). A probe
 * now says which run it asks about, and a party that gave that run's counter to another run says
 * so: nobody is named, and the error says the parties' runs differ. A party that did take the same
 * run id and withholds is still named (second test). In-process parties, real channels.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { secureSum } from '../../src/protocols';
import { ErrorCode, type CouplerError } from '../../src/errors';
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { PONG_ROUND, encodeProbe } from '../../src/group/inbound';

jest.setTimeout(60_000);

test('a party that gave this run\'s counter to another run is not named for withholding it', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_500 });
  try {
    const [p1, p2, p3] = h.groups;
    // p1 and p2 run other code: counter 1 went to "other.1", and they wait for nobody now.
    expect(p1!.nextRunId('other')).toBe('other.1');
    expect(p2!.nextRunId('other')).toBe('other.1');
    const [r] = await settleAll([secureSum(p3!, 5)]);
    expect(r!.ok).toBe(false);
    const e = (r as { error: unknown }).error as CouplerError;
    expect(e.code).toBe(ErrorCode.TIMEOUT);
    expect(e.peers ?? []).toEqual([]);
    expect(e.message).toContain('"other.1"');
  } finally {
    await h.close();
  }
});

test('control: parties that took the same run id and withhold are still named', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_500 });
  try {
    const [p1, p2, p3] = h.groups;
    expect(p1!.nextRunId('sum')).toBe('sum.1');
    expect(p2!.nextRunId('sum')).toBe('sum.1');
    const [r] = await settleAll([secureSum(p3!, 5)]);
    const e = (r as { error: unknown }).error as CouplerError;
    expect(e.code).toBe(ErrorCode.TIMEOUT);
    expect([...(e.peers ?? [])].sort()).toEqual([p1!.localId, p2!.localId]);
  } finally {
    await h.close();
  }
});

/** p2's channels rewrite its probe answers to p1 with `rewrite(nonce, waitingFor)`. */
function forgePongs(rewrite: (nonce: Uint8Array, w: readonly string[]) => Uint8Array): void {
  const send = SecureChannel.prototype.send;
  jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
    const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array; w?: string[] } };
    return send.call(this, m.r === PONG_ROUND ? rewrite(m.p!.n!, m.p!.w ?? []) : message);
  });
}

afterEach(() => jest.restoreAllMocks());

test('a withholder that claims another run gets out of being named, as by claiming to wait for a live party — and gets nobody else named', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_000 });
  try {
    const [p1, p2, p3] = h.groups;
    for (const g of [p1, p2, p3]) expect(g!.nextRunId('sum')).toBe('sum.1');
    // p2 took sum.1 too, withholds, and answers p1's probe "my counter 1 went to other.1".
    forgePongs((n, w) => encodeProbe('pong', n, w, 'other.1'));
    const e = await p1!.gather('sum.1/a', { from: ['p2', 'p3'] }).then(() => undefined, (x: unknown) => x as CouplerError);
    // (p3 withholds as well here, honestly idle: it waits for nobody and is named.)
    expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(e?.peers).toEqual(['p3']);
    expect(e?.suspects).toEqual(['p2']);
  } finally {
    await h.close();
  }
});

test.each([
  ['no counter', 'other'],
  ['a counter of 0', 'other.0'],
  ['a name longer than a round name', `${'x'.repeat(200)}.1`],
  ['a space', 'other run.1'],
])('a probe answer whose run has %s is a typed violation naming its sender', async (_what, x) => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_000 });
  try {
    const [p1] = h.groups;
    const run = p1!.nextRunId('sum');
    forgePongs((n, w) => encodeMessage({ r: PONG_ROUND, p: { n, w: [...w], x } }));
    const e = await p1!.gather(`${run}/a`, { from: ['p2'] }).then(() => undefined, (err: unknown) => err as CouplerError);
    expect(e?.code).toBe(ErrorCode.FRAME_MALFORMED);
    expect(e?.peer).toBe('p2');
  } finally {
    await h.close();
  }
});
