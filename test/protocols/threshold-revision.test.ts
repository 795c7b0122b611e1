/**
 * thresholdSum's shape exchange (no echo) against a party of another release: 25d441a made the
 * echoed agreement of the other sums compare a statement's parameters (the protocol revision is
 * among them) before parsing the rest strictly, so two releases report SHAPE_MISMATCH instead of
 * a malformed statement; thresholdSum still parsed strictly first and reported FRAME_MALFORMED.
 * In-process parties, real channels; p3 plays the other release (revision + 1, a field this
 * release does not know).
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum } from '../../src/protocols';
import { PROTOCOL_REVISION } from '../../src/protocols/common';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { PlainData } from '../../src/wire/codec';

test('a party of another release in thresholdSum: SHAPE_MISMATCH naming it, not a malformed statement', async () => {
  const h = await createTestGroups(4, { roundTimeoutMs: 4_000 });
  const g3 = h.groups[2]!;
  const send = g3.send.bind(g3);
  g3.send = (peer: string, round: string, payload: PlainData, ...rest: unknown[]) => {
    if (round.endsWith('/shape')) {
      const st = { ...(payload as Record<string, PlainData>) };
      st.params = JSON.stringify({ ...(JSON.parse(st.params as string) as Record<string, unknown>), rev: PROTOCOL_REVISION + 1 });
      st.later = 'a field of a later release';
      return send(peer, round, st);
    }
    return send(peer, round, payload, ...(rest as []));
  };
  try {
    const out = await settleAll(h.groups.map((g, i) => thresholdSum(g, i, { t: 3 })));
    for (const i of [0, 1, 3]) {
      const e = (out[i] as { error: CouplerError }).error;
      expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.SHAPE_MISMATCH, peers: ['p3'] });
    }
  } finally {
    g3.send = send;
    await h.close();
  }
}, 30_000);
