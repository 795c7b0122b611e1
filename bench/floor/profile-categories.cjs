// Attribute the CPU profiles of a `floor` run to the layers of the stack (issue 18.1).
//   node --cpu-prof --cpu-prof-interval=250 --cpu-prof-dir=/tmp/A/main --import tsx bench/run.ts floor --layers=group --placements=cross --reps=5 --trips=5000
//     (BENCH_NODE_ARGS="--cpu-prof --cpu-prof-interval=250 --cpu-prof-dir=/tmp/A/child" profiles the echo child too)
//   node bench/floor/profile-categories.cjs <round trips> /tmp/A [/tmp/B]
// Busy µs per round trip (every .cpuprofile under the folder, idle excluded) by category; the
// leaf-most frame of a sample that matches a rule decides its category. With B (the same run of
// the layer below): A, B and A − B. Round trips = (reps + 1) × (trips + warm).
const fs = require('fs'), path = require('path');
const [tripsArg, A, B] = process.argv.slice(2);
const trips = Number(tripsArg);
function files(d) { const out = []; for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) out.push(...files(p)); else if (p.endsWith('.cpuprofile')) out.push(p); } return out; }
const RULES = [
  [/^\(garbage collector\)/, () => 'gc'],
  [/^\(program\)/, () => 'program (V8/native, unattributed)'],
  [/src\/wire\/codec\.ts/, (f) => (/^(encodeMessage|encodeBytesList)$/.test(f) ? 'group: encode (checkPlain + msgpackr pack)' : /^(decodeMessageCost|decodeMessage|scanMessage|smallArrayIndex)$/.test(f) ? 'group: decode (scan + unpack + checkPlain)' : null)],
  [/src\/group\/inbound\.ts|src\/wire\/shape\.ts/, () => 'group: inbound dispatch + shape checks'],
  [/src\/group\/mailbox\.ts/, () => 'group: mailbox (put/wait/take, deadline timer)'],
  [/src\/group\/link\.ts/, () => 'group: link'],
  [/src\/group\/mesh\.ts/, () => 'group: mesh sink closures'],
  [/src\/group\/group\.ts/, (f) => (/sentWithin|untilAborted|#sent$|race/.test(f) ? 'group: send completion (#sentWithin: Promise.all/race + timer)' : /#post|#flush/.test(f) ? 'group: batching (#post/#flush, setImmediate)' : 'group: API (send/receive/checkRound/__name/…)')],
  [/src\/channel\/|node_modules\/ws\/|node:internal\/crypto|^writev|node:net|node:internal\/stream|stream_base_commons|node:internal\/buffer|node:buffer/, () => 'channel + ws + socket + crypto'],
  [/bench\/|test\/support/, () => 'bench harness'],
  [/^(setTimeout|clearTimeout|unenroll|insert|insertGuarded|Timeout|initAsyncResource|getTimerDuration|setImmediate|Immediate)\b|node:timers|node:internal\/timers/, () => 'timers/immediates'],
  [/^(runMicrotasks|processTicksAndRejections|nextTick|processPromiseRejections)\b|task_queues/, () => 'promise/tick machinery'],
];
function cat(stack) { // stack: leaf first, array of {fn, url}
  for (const fr of stack) {
    const s = `${fr.fn} ${fr.url}`;
    for (const [re, f] of RULES) if (re.test(s)) { const c = f(fr.fn); if (c) return c; }
  }
  return 'other: ' + `${stack[0].fn} ${stack[0].url}`.slice(0, 60);
}
function agg(d) {
  const m = new Map(); let busy = 0;
  for (const file of files(d)) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const memo = new Map();
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i]; const t = p.timeDeltas[i] ?? 0;
      if (byId.get(id).callFrame.functionName === '(idle)') continue;
      busy += t;
      let c = memo.get(id);
      if (c === undefined) { const st = []; for (let cur = id; cur !== undefined; cur = parent.get(cur)) { const cf = byId.get(cur).callFrame; st.push({ fn: cf.functionName, url: cf.url }); } c = cat(st); memo.set(id, c); }
      m.set(c, (m.get(c) ?? 0) + t);
    }
  }
  return { m, busy };
}
const a = agg(A), b = B ? agg(B) : { m: new Map(), busy: 0 };
const agg2 = (m) => { const o = new Map(); for (const [k, v] of m) { const kk = k.startsWith('other:') ? 'other (module loading, setup, …)' : k; o.set(kk, (o.get(kk) ?? 0) + v); } return o; };
const am = agg2(a.m), bm = agg2(b.m);
const keys = [...new Set([...am.keys(), ...bm.keys()])].sort((x, y) => ((am.get(y) ?? 0) - (bm.get(y) ?? 0)) - ((am.get(x) ?? 0) - (bm.get(x) ?? 0)));
console.log(`| category | A µs/trip | B µs/trip | A − B |`);
console.log(`| --- | --- | --- | --- |`);
for (const k of keys) { const x = (am.get(k) ?? 0) / trips, y = (bm.get(k) ?? 0) / trips; console.log(`| ${k} | ${x.toFixed(1)} | ${y.toFixed(1)} | ${(x - y).toFixed(1)} |`); }
console.log(`| busy (all) | ${(a.busy / trips).toFixed(1)} | ${(b.busy / trips).toFixed(1)} | ${((a.busy - b.busy) / trips).toFixed(1)} |`);
if (process.env.OTHER) for (const [k, v] of [...a.m].filter(([k]) => k.startsWith('other')).sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log((v / trips).toFixed(2), k);
