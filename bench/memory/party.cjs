/**
 * One party of `npm run bench -- memory` for the variants the demo CLI does not offer
 * (`secureSum/vector`, …): a plain Node process that loads the built package (dist/index.js), as
 * `coupler run` does, joins the group, makes its input (a Float64Array of L, like the demo's),
 * runs one sum when the parent says so, and reports its resident memory just before the sum
 * (VmRSS) and at the peak of its whole life (VmHWM, kept by the kernel: no sampling gaps).
 *
 *   BENCH_MEMORY_PARTY='{"dist", "index", "id", "identity", "roster", "sessionId", "listen", "all", "L", "variant"}' node bench/memory/party.cjs
 *
 * IPC with the parent: sends `{ event: 'ready', rssMb }` once joined and holding its input, waits
 * for `{ op: 'run' }`, sends `{ event: 'done', digest, hwmMb, ms }` (or `{ event: 'failed', error }`),
 * then closes the group and exits. Exits on its own when the parent goes away or after
 * `deadlineMs`.
 */
'use strict';
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');

const cfg = JSON.parse(process.env.BENCH_MEMORY_PARTY);
setTimeout(() => process.exit(3), cfg.deadlineMs).unref();
process.on('disconnect', () => process.exit(4));

function statusMb(field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** The same input as the protocols benchmark's parties (bench/protocols/shared.ts partyInput). */
function input(index, L) {
  const v = new Float64Array(L);
  for (let j = 0; j < L; j++) v[j] = Math.round(Math.sin(index * 7919 + j * 0.61803) * 1000 * 1000) / 1000;
  return v;
}

function run(c, g, x) {
  const n = g.parties.length;
  const common = { bound: 1e4 };
  switch (cfg.variant) {
    case 'secureSum/seed':
      return c.secureSum(g, x, { ...common, shares: 'seed' });
    case 'secureSum/vector':
      return c.secureSum(g, x, { ...common, shares: 'vector' });
    case 'dkSecureSum':
      return c.dkSecureSum(g, x, { ...common, k: Math.min(4, n) });
    case 'dkSecureSum/broadcast':
      return c.dkSecureSum(g, x, { ...common, k: Math.min(4, n), opening: 'broadcast' });
    case 'thresholdSum':
      return c.thresholdSum(g, x, { ...common, t: Math.floor(n / 2) + 1 });
    case 'ringSecureSum':
      return c.ringSecureSum(g, x, { ...common, acknowledgeInsecure: true });
    case 'plainSum':
      return c.plainSum(g, x, { ...common, acknowledgeInsecure: true });
    default:
      throw new Error(`unknown variant ${cfg.variant}`);
  }
}

async function main() {
  const c = require(cfg.dist);
  const peers = cfg.all.filter((a) => a.id !== cfg.id).map((a) => ({ host: a.host, port: a.port, source: 'static', partyHint: a.id }));
  const group = await c.joinGroup({
    identity: c.parseIdentity(cfg.identity),
    roster: c.parseRoster(cfg.roster),
    sessionId: cfg.sessionId,
    localId: cfg.id,
    discovery: { kind: 'static', discover: () => Promise.resolve(peers.map((p) => ({ ...p }))) },
    listen: { host: cfg.listen.host, port: cfg.listen.port },
    timeoutMs: 120000,
    roundTimeoutMs: 600000,
    dialBackoff: { initialMs: 50, maxMs: 500 },
    discoveryIntervalMs: 50,
  });
  const x = input(cfg.index, cfg.L);
  const go = new Promise((resolve) => process.on('message', (m) => m && m.op === 'run' && resolve()));
  process.send({ event: 'ready', rssMb: statusMb('VmRSS') });
  await go;
  try {
    const t0 = performance.now();
    const r = await run(c, group, x);
    const ms = performance.now() - t0;
    const s = r.sum;
    const digest = createHash('sha256').update(new Uint8Array(s.buffer, s.byteOffset, s.byteLength)).digest('hex').slice(0, 16);
    process.send({ event: 'done', digest, ms, hwmMb: statusMb('VmHWM') });
  } catch (err) {
    process.send({ event: 'failed', error: String(err && err.message), hwmMb: statusMb('VmHWM') });
  } finally {
    await group.close();
  }
  process.disconnect();
}

main().catch((err) => {
  try {
    process.send({ event: 'failed', error: String(err && err.message) });
  } catch {
    /* parent gone */
  }
  process.exit(2);
});
