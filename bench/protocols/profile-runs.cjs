// Attribute the benchmark parties' CPU profiles to the per-run work of a protocol (issue 18.1).
//   D=/tmp/prof; mkdir -p $D
//   BENCH_PARTY_WINDOWS=$D BENCH_NODE_ARGS="--cpu-prof --cpu-prof-interval=50 --cpu-prof-dir=$D" \
//     node --import tsx bench/run.ts protocols --parts=mesh --ns=5 --lengths=1 --reps=30 --variants=secureSum/seed
//   node bench/protocols/profile-runs.cjs $D [variant]
// Without window files (a one-process profile, e.g. `node --cpu-prof … bench/run.ts latency --ns=5
// --variants='secureSum L=1'`), RUNS=<runs × parties> divides every main-thread sample of $D.
// Keeps only the samples inside the timed runs (the windows party.ts writes with
// BENCH_PARTY_WINDOWS; `variant` picks one), skipping the first `SKIP` runs of each party (env,
// default 0) and keeping the next `TAKE` (env, default all), and prints busy µs per run and party by category: the innermost frame that matches a
// rule decides (so a hash inside a commitment is "commitments", a socket write below the group is
// "channel …"). OTHER=1 lists the largest unattributed leaf frames; SELF=1 the top self times.
const fs = require('fs'), path = require('path');
const [dir, variant] = process.argv.slice(2);
const SKIP = Number(process.env.SKIP ?? 0);
const RULES = [
  ['GC', /^\(garbage collector\) /],
  ['V8 unattributed (program)', /^\(program\) /],
  ['Ed25519 sign', /^ed25519Sign /],
  ['Ed25519 verify', /^(ed25519Verify|verifyStatement) /],
  ['pairwise secrets (HKDF per peer)', /^(pairwiseSeed|_pairwiseSeeds|_claimPairwise) /],
  ['mask expansion (HKDF + ChaCha20 per peer)', /^(applySeedsInPlace|deriveKey) /],
  ['commitments (own + fused openings checked)', /^(commitment|checkFusedOpening) /],
  ['coin commitments (own + checked)', /^coinCommitment /],
  ['echo: statements + view digest (encode + SHA-256)', /^(statementBytes|digestStatement|echoDigest) /],
  ['echo: value hashes (SHA-256)', /^sha256 .*group\/echo/],
  ['echo: judge digests / collect', /^(judgeDigest|collect|settle) .*group\/echo|^\(anon\) .*group\/echo/],
  ['echo: own code (encode value, decode values, maps)', /^(echo|echoBroadcastAttached) .*group\/echo/],
  ['agree: compare/parse statements, seed', /^(compare|parseStatement|statedParams|mismatchReason) .*protocols\/common/],
  ['agree: own code (seed hash, maps)', /^(agree|agreeRun) .*protocols\/common/],
  ['encodeRun (params, fixed-point encode, descriptor, progress)', /^(encodeRun|checkSumOptions|checkGroup|checkOpening|relayHint|encodeLocal|checkParams|ProgressReporter|encodingParams|boundText) /],
  ['result (decode, mirror)', /^(ring64Result|_mirrorOutput|decodeRing64|seedHex) /],
  ['run end (progress.end, _runEnded)', /^(end|_runEnded|_runFailed) /],
  ['secureSum own code', /^(secureSum|fusedSecureSum|maskPairwise|r64ToBytes|r64Zeros|r64AddInPlace|ringFromBytes) /],
  ['plainSum own code', /^plainSum /],
  ['channel + ws + socket + AEAD', /src\/channel\/|node_modules\/ws\/|^writev |node:net|node:internal\/stream|stream_base_commons|node:internal\/crypto\/cipher/],
  ['group: inbound decode + dispatch', /src\/group\/inbound|src\/wire\/shape|^(decodeRoundMessage|decodeMessageCost|scanMessage) /],
  ['group: mailbox + deadlines', /src\/group\/(mailbox|deadlines)/],
  ['group: send/gather/receive API, batching', /src\/group\/(group|link|mesh)/],
  ['timers / immediates', /^(processImmediate|setTimeout|clearTimeout|unenroll|insert|listOnTimeout|processTimers|setImmediate) /],
  ['promise / tick machinery', /^(runMicrotasks|processTicksAndRejections|runNextTicks) /],
  ['bench harness', /bench\//],
];
function files(d) { const out = []; for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) out.push(...files(p)); else out.push(p); } return out; }
const all = files(dir);
const windowsByPid = new Map();
for (const f of all.filter((f) => /windows\.\d+\.txt$/.test(f))) {
  const pid = f.match(/windows\.(\d+)\.txt$/)[1];
  const ws = fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(' ')).filter((w) => variant === undefined || w[0] === variant).map((w) => [Number(w[2]), Number(w[3])]);
  windowsByPid.set(pid, ws.slice(SKIP, process.env.TAKE === undefined ? undefined : SKIP + Number(process.env.TAKE)));
}
const cat = new Map(), selfT = new Map(), other = new Map();
let runs = 0, busy = 0, idle = 0, wall = 0;
// Main threads only (`CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile`; tsx's loader thread is another).
for (const f of all.filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))) {
  const pid = path.basename(f).split('.')[3];
  const p = JSON.parse(fs.readFileSync(f, 'utf8'));
  const ws = process.env.RUNS !== undefined ? [[-Infinity, Infinity]] : windowsByPid.get(pid);
  if (ws === undefined || ws.length === 0) continue;
  runs += process.env.RUNS !== undefined ? Number(process.env.RUNS) : ws.length;
  for (const [a, b] of ws) wall += b - a;
  const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(src|dist|node_modules|bench|test)\//, '$1/')}`;
  const memo = new Map();
  let t = p.startTime, w = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0; // the sample's interval: until the next sample
    while (w < ws.length && ws[w][1] < t) w++;
    if (w === ws.length) break;
    if (t < ws[w][0]) continue;
    const id = p.samples[i]; const n = byId.get(id);
    if (n.callFrame.functionName === '(idle)') { idle += dt; continue; }
    busy += dt;
    let c = memo.get(id);
    if (c === undefined) {
      c = 'other';
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) { const s = name(byId.get(cur)); const r = RULES.find(([, re]) => re.test(s)); if (r) { c = r[0]; break; } }
      memo.set(id, c);
    }
    cat.set(c, (cat.get(c) ?? 0) + dt);
    selfT.set(name(n), (selfT.get(name(n)) ?? 0) + dt);
    if (c === 'other' || (process.env.DETAIL && c.includes(process.env.DETAIL))) {
      // The leaf, and the frame under the category's own (the callee that cost it).
      let under = '';
      for (let cur = id, prev; cur !== undefined; prev = cur, cur = parent.get(cur)) { const s = name(byId.get(cur)); if (RULES.some(([, re]) => re.test(s))) { under = prev === undefined ? '(self)' : name(byId.get(prev)); break; } }
      const k = `${name(n)}  <- ${under}`;
      other.set(k, (other.get(k) ?? 0) + dt);
    }
  }
}
const per = (v) => (v / runs).toFixed(1);
console.log(`${runs} runs × parties (windows), wall in windows ${per(wall)} µs per run and party; profile busy ${per(busy)}, idle ${per(idle)}`);
console.log('| category | µs per run and party | share |');
console.log('| --- | --- | --- |');
for (const [k, v] of [...cat].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${per(v)} | ${((100 * v) / busy).toFixed(1)} % |`);
console.log(`| **busy, all** | **${per(busy)}** | |`);
if (process.env.OTHER || process.env.DETAIL) for (const [k, v] of [...other].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(per(v).padStart(8), k);
if (process.env.SELF) for (const [k, v] of [...selfT].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.SELF) || 40)) console.log(per(v).padStart(8), k);
