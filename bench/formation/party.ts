/**
 * Child of the formation benchmark: one party in its own process, as in a deployment where each
 * party is a container (the listeners' work on the attacker's hellos does not run on the late
 * party's event loop). `warm` runs the warm-up (join.ts); `join` joins the group (join.ts) and answers once the mesh is complete;
 * `close` closes it. Started with `spawnWorker` (bench/lib/child.ts).
 *
 * @module
 */
import type { Group } from '../../src/group/group.js';
import { serve, workerConfig } from '../lib/worker.js';
import { joinParty, warmUp } from './join.js';
import type { FormationPartyConfig, JoinResult } from './shared.js';

const cfg = workerConfig<FormationPartyConfig>();
let group: Group | undefined;

serve({
  warm: async () => {
    await warmUp(cfg);
    return { warm: true };
  },
  join: async (): Promise<JoinResult> => {
    const joined = await joinParty(cfg);
    group = joined.group;
    return joined.result;
  },
  close: async () => {
    await group?.close();
    return { closed: true };
  },
});
