/**
 * A vantage6 4.14 collaboration on one machine whose containers are REAL containers of a built
 * image (buildah, chroot isolation, vfs storage; see lib.sh), started the way a 4.14 node starts
 * an algorithm container (vantage6-node/vantage6/node/docker/task_manager.py, 4.14; the facts are
 * in shared/design/vantage6.md):
 *
 * - one fresh container of the image per run (`buildah from`, then `buildah run` of the image's
 *   own ENTRYPOINT as the image's USER in its WORKDIR, then `buildah rm`);
 * - /mnt/data/task-<run, 9 digits>/{input,output,token} created by root as the node creates them:
 *   input written, output created empty with open(..., "wb") (root:root 0644), the token (JWT)
 *   root:root 0644; TEMPORARY_FOLDER=/mnt/tmp, one root-owned volume per job and station, shared
 *   by the job's parent and child containers at that station;
 * - the environment base32-encoded with '=' → '!' (INPUT_FILE, OUTPUT_FILE, TOKEN_FILE,
 *   TEMPORARY_FOLDER, HOST, PORT, API_PATH, USER_REQUESTED_DATABASE_LABELS, DB_LABELS,
 *   DEFAULT_DATABASE_URI/_TYPE); PKG_NAME comes from the image;
 * - the node proxy is the fake one of test/support on 127.0.0.1; HOST=http://proxyserver as a node
 *   sets it, the name mapped to 127.0.0.1 by the container's /etc/hosts (`buildah from
 *   --add-host`; on a node Docker's DNS answers it): the containers share the host's network
 *   namespace, loopback only;
 * - the VPN is replaced by loopback as in examples/_support/fake-node.ts: each compute container
 *   is told its own port (COUPLER_LISTEN_HOST/COUPLER_PORT, as a node's algorithm_env could) and
 *   listed at /vpn/algorithm/addresses.
 *
 * The station's database (CSV) is bind-mounted read-only at /mnt/default.csv.
 *
 * Usage (root; see docs/reviews/image-trial.md):
 *   npx tsx scripts/image-trial/v6-node.ts --image coupler-central:latest --stations 3 \
 *     [--files stock|uid1000] [--work DIR] [--kwargs '{"column":"hba1c"}'] [--method central]
 * Writes a JSON summary to stdout; the run folders stay in --work for inspection.
 *
 * Not a test: it needs root, buildah and a built image, and takes minutes. Never run in CI.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../src/cli/ports';
import { encodeNodeEnvValue } from '../../src/cli/simulate';
import { startFakeNodeProxy, type FakeNodeProxy, type FakeRun, type FakeTask } from '../../test/support/fake-node-proxy';

const TRIAL = process.env.TRIAL ?? '/var/tmp/image-trial';
const BUILDAH = ['--root', join(TRIAL, 'storage'), '--runroot', join(TRIAL, 'runroot'), '--storage-driver', 'vfs'];
const REPO = resolve(__dirname, '../..');

const { values: opts } = parseArgs({
  options: {
    image: { type: 'string', default: 'coupler-central:latest' },
    stations: { type: 'string', default: '3' },
    files: { type: 'string', default: 'stock' }, // stock: root-owned as a 4.14 node; uid1000: given to uid 1000
    work: { type: 'string' },
    method: { type: 'string', default: 'central' },
    kwargs: { type: 'string', default: '{}' },
    data: { type: 'string', default: join(REPO, 'examples/central/data') },
    'container-timeout': { type: 'string', default: '600' },
    // Operator-provisioned keys instead of the central flow: each station's operator runs
    // `coupler keygen` and `coupler roster build` of the image (as its USER) into a secrets folder
    // mounted at /run/secrets/coupler, the node's algorithm_env names the files
    // (COUPLER_IDENTITY_FILE, COUPLER_ROSTER_FILE), and one task of --method runs at every station.
    provisioned: { type: 'boolean', default: false },
  },
});
const STATIONS = Number(opts.stations);
const WORK = opts.work ?? join(TRIAL, `v6-${new Date().toISOString().replace(/[:.]/g, '')}`);
const UID1000 = opts.files === 'uid1000';

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function buildah(args: string[], timeoutS = Number(opts['container-timeout'])): Promise<Exec> {
  const t0 = Date.now();
  return new Promise((res) => {
    const child = spawn('buildah', [...BUILDAH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  user: string;
  workdir: string;
  env: string[];
}

async function imageConfig(image: string): Promise<ImageConfig> {
  const r = await buildah(['inspect', '--type', 'image', image]);
  if (r.code !== 0) throw new Error(`buildah inspect ${image}: ${r.stderr}`);
  const c = (JSON.parse(r.stdout) as { OCIv1: { config: { Entrypoint?: string[]; Cmd?: string[]; User?: string; WorkingDir?: string; Env?: string[] } } }).OCIv1.config;
  return { entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], user: c.User ?? '', workdir: c.WorkingDir ?? '', env: c.Env ?? [] };
}

interface Record_ {
  seq: number;
  organizationId: number;
  taskId: number;
  method: string;
  exitCode: number | null;
  ms: number;
  stderr: string;
  output: string;
  outputStat: { uid: number; mode: string };
  tmpAfter: string[];
  /** Contents of the key files this run left in TEMPORARY_FOLDER (to check they reach no task input or result). */
  keyFiles: string[];
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const config = await imageConfig(opts.image!);
  const records: Record_[] = [];
  let seq = 0;
  const dataFile = (org: number): string => resolve(opts.data!, `station-${org}.csv`);

  /** Run a command (not the entry point) in a fresh container of the image, as its USER. */
  const runIn = async (volumes: string[], command: string[]): Promise<Exec> => {
    const name = `v6trial-${process.pid}-cmd-${++seq}`;
    const from = await buildah(['from', '--pull=never', '--name', name, opts.image!]);
    if (from.code !== 0) throw new Error(`buildah from: ${from.stderr}`);
    try {
      return await buildah(['run', '--isolation', 'chroot', '--network', 'host', ...volumes.flatMap((v) => ['-v', v]), name, '--', ...command]);
    } finally {
      await buildah(['rm', name]);
    }
  };
  const stationEnv = new Map<number, Record<string, string>>();
  const stationVolumes = new Map<number, string[]>();

  const startContainer = async (proxy: FakeNodeProxy, organizationId: number, taskId: number, input: Buffer, extraEnv: Record<string, string>): Promise<Record_> => {
    const n = ++seq;
    const runId = String(n).padStart(9, '0');
    const station = join(WORK, `node-${organizationId}`);
    // TEMPORARY_FOLDER: one volume per job at this station (every task here is one job: the
    // central task and its subtasks), root-owned 0755 as a fresh Docker volume.
    const tmp = join(station, 'tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    const runDir = join(station, `task-${runId}`);
    mkdirSync(runDir, { recursive: true, mode: 0o755 });
    const files = { input: join(runDir, 'input'), output: join(runDir, 'output'), token: join(runDir, 'token') };
    writeFileSync(files.input, input, { mode: 0o644 });
    writeFileSync(files.output, '', { mode: 0o644 });
    const claims = { organization_id: organizationId, task_id: taskId, collaboration_id: proxy.collaborationId, image: opts.image!, node_id: 100 + organizationId };
    writeFileSync(files.token, proxy.issueToken(claims), { mode: 0o644 });
    for (const f of Object.values(files)) chmodSync(f, 0o644);
    if (UID1000) {
      // What an operator of a Swarm/Kubernetes deployment does for the non-root variant.
      chownSync(files.output, 1000, 1000);
      chownSync(tmp, 1000, 1000);
    }
    const inContainer = `/mnt/data/task-${runId}`;
    const raw: Record<string, string> = {
      INPUT_FILE: `${inContainer}/input`,
      OUTPUT_FILE: `${inContainer}/output`,
      TOKEN_FILE: `${inContainer}/token`,
      TEMPORARY_FOLDER: '/mnt/tmp',
      HOST: 'http://proxyserver',
      PORT: String(proxy.port),
      API_PATH: '',
      USER_REQUESTED_DATABASE_LABELS: 'default',
      DB_LABELS: 'default',
      DEFAULT_DATABASE_URI: '/mnt/default.csv',
      DEFAULT_DATABASE_TYPE: 'csv',
      ...stationEnv.get(organizationId),
      ...extraEnv,
    };
    const envArgs = Object.entries(raw).flatMap(([k, v]) => ['-e', `${k}=${encodeNodeEnvValue(v)}`]);
    const method = (JSON.parse(input.toString('utf8')) as { method?: string }).method ?? '?';
    const name = `v6trial-${process.pid}-${n}`;
    const t0 = Date.now();
    // The node's proxy is `proxyserver` on the node's Docker network; here a hosts entry for loopback.
    const from = await buildah(['from', '--pull=never', '--add-host', 'proxyserver:127.0.0.1', '--name', name, opts.image!]);
    if (from.code !== 0) throw new Error(`buildah from: ${from.stderr}`);
    try {
      const run = await buildah([
        'run', '--isolation', 'chroot', '--network', 'host',
        '-v', `${runDir}:${inContainer}`, '-v', `${tmp}:/mnt/tmp`, '-v', `${dataFile(organizationId)}:/mnt/default.csv:ro`,
        ...(stationVolumes.get(organizationId) ?? []).flatMap((v) => ['-v', v]),
        ...envArgs, name, '--', ...config.entrypoint, ...config.cmd,
      ]);
      const st = statSync(files.output);
      const rec: Record_ = {
        seq: n, organizationId, taskId, method, exitCode: run.code, ms: Date.now() - t0,
        stderr: run.stderr.slice(-4000), output: readFileSync(files.output, 'utf8'),
        outputStat: { uid: st.uid, mode: (st.mode & 0o777).toString(8) },
        tmpAfter: readdirSync(tmp).map((f) => {
          const fs = statSync(join(tmp, f));
          return `${f} uid=${fs.uid} mode=${(fs.mode & 0o777).toString(8)}`;
        }),
        keyFiles: readdirSync(tmp).map((f) => readFileSync(join(tmp, f), 'utf8')),
      };
      records.push(rec);
      process.stderr.write(`[v6-node] run ${n} org ${organizationId} task ${taskId} ${method}: exit ${run.code} in ${rec.ms} ms\n`);
      return rec;
    } finally {
      await buildah(['rm', name]);
    }
  };

  const onTask = async (task: FakeTask, runs: FakeRun[], proxy: FakeNodeProxy): Promise<void> => {
    await Promise.all(
      runs.map(async (run) => {
        const input = Buffer.from(run.inputBase64, 'base64');
        const compute = (run.input as { method?: string }).method !== 'coupler_key_exchange';
        let extra: Record<string, string> = {};
        if (compute) {
          const port = await freePort('127.0.0.1');
          extra = { COUPLER_LISTEN_HOST: '127.0.0.1', COUPLER_PORT: String(port) };
          proxy.vpnAddresses.push({ ip: '127.0.0.1', port, label: 'coupler', organization_id: run.organizationId, task_id: task.id, parent_id: task.parentId ?? null });
        }
        const rec = await startContainer(proxy, run.organizationId, task.id, input, extra);
        if (rec.exitCode === 0) proxy.completeRunRaw(run.id, Buffer.from(rec.output, 'utf8').toString('base64'));
        else proxy.crashRun(run.id);
      }),
    );
  };

  const organizations = Array.from({ length: STATIONS }, (_, i) => ({ id: i + 1, name: `station-${i + 1}` }));
  const proxy = await startFakeNodeProxy({ onTask, organizations });
  try {
    const input = Buffer.from(JSON.stringify({ method: opts.method, args: [], kwargs: JSON.parse(opts.kwargs!) }));
    if (opts.provisioned) {
      const keys: string[] = [];
      for (const org of organizations.map((o) => o.id)) {
        const secrets = join(WORK, `node-${org}`, 'secrets');
        mkdirSync(secrets, { recursive: true, mode: 0o700 });
        if (config.user !== '' && config.user !== 'root') chownSync(secrets, 1000, 1000);
        const vol = `${secrets}:/run/secrets/coupler`;
        const kg = await runIn([vol], ['coupler', 'keygen', '--out', '/run/secrets/coupler/identity.json', '--id', String(org)]);
        if (kg.code !== 0) throw new Error(`keygen at station ${org}: exit ${kg.code}: ${kg.stderr}`);
        const key = /^public key: (\S+)$/m.exec(kg.stdout)?.[1];
        if (key === undefined) throw new Error(`keygen at station ${org} printed no public key: ${kg.stdout}`);
        keys.push(`${org}=${key}`);
        const st = statSync(join(secrets, 'identity.json'));
        process.stderr.write(`[v6-node] station ${org}: keygen in the image, identity.json uid ${st.uid} mode ${(st.mode & 0o777).toString(8)}\n`);
        stationVolumes.set(org, [`${vol}:ro`]);
        stationEnv.set(org, { COUPLER_IDENTITY_FILE: '/run/secrets/coupler/identity.json', COUPLER_ROSTER_FILE: '/run/secrets/coupler/roster.json' });
      }
      for (const org of organizations.map((o) => o.id)) {
        const rb = await runIn([`${join(WORK, `node-${org}`, 'secrets')}:/run/secrets/coupler`], ['coupler', 'roster', 'build', '--out', '/run/secrets/coupler/roster.json', ...keys]);
        if (rb.code !== 0) throw new Error(`roster build at station ${org}: exit ${rb.code}: ${rb.stderr}`);
      }
      // One task (60) with a run at every station, as a researcher's task for all organizations.
      const taskId = 60;
      const runs = await Promise.all(
        organizations.map(async (o) => {
          const port = await freePort('127.0.0.1');
          proxy.vpnAddresses.push({ ip: '127.0.0.1', port, label: 'coupler', organization_id: o.id, task_id: taskId, parent_id: null });
          return startContainer(proxy, o.id, taskId, input, { COUPLER_LISTEN_HOST: '127.0.0.1', COUPLER_PORT: String(port) });
        }),
      );
      const outputs = runs.map((r) => r.output);
      const summary = {
        image: opts.image, user: config.user, files: opts.files, work: WORK, provisioned: true,
        agree: outputs.every((o) => o === outputs[0] && o.length > 0),
        runs: runs.map((r) => ({ org: r.organizationId, method: r.method, exit: r.exitCode, ms: r.ms, output: r.output.slice(0, 600), outputStat: r.outputStat, stderrTail: r.exitCode === 0 ? undefined : r.stderr.slice(-800) })),
        requestsToProxy: proxy.requests.map((q) => `${q.method} ${q.path}`),
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    const central = await startContainer(proxy, 1, 50, input, {});
    // Let subtask containers still running end (a failed central run may leave them).
    for (let i = 0; i < 600 && records.length < seq; i++) await new Promise((r) => setTimeout(r, 500));
    // The result in the clear, from the stations' CSVs (the central example's statistic).
    const kw = JSON.parse(opts.kwargs!) as { column?: string; threshold?: number };
    const column = kw.column ?? 'hba1c';
    const threshold = kw.threshold ?? 48;
    const values: number[] = [];
    for (let org = 1; org <= STATIONS; org++) {
      const [head, ...rows] = readFileSync(dataFile(org), 'utf8').trim().split(/\r?\n/);
      const at = head!.split(',').indexOf(column);
      for (const row of rows) {
        const cell = row.split(',')[at]?.trim() ?? '';
        if (cell !== '' && Number.isFinite(Number(cell))) values.push(Number(cell));
      }
    }
    const clear = { count: values.length, mean: values.reduce((a, x) => a + x, 0) / values.length, atOrAbove: values.filter((x) => x >= threshold).length };
    // No secret of a key file in any request the proxy saw (task inputs) or any result.
    const seen = JSON.stringify(proxy.requests) + JSON.stringify([...proxy.runs.values()].map((r) => r.result)) + records.map((r) => r.output).join('');
    const secrets = records.flatMap((r) => r.keyFiles).flatMap((text) => {
      try {
        return Object.entries(JSON.parse(text) as Record<string, unknown>).filter(([k, v]) => /secret|private|seed/i.test(k) && typeof v === 'string').map(([, v]) => v as string);
      } catch {
        return [text];
      }
    });
    let got: { count?: number; mean?: number; atOrAbove?: number } = {};
    try {
      got = JSON.parse(central.output) as typeof got;
    } catch {
      /* no output */
    }
    const checks = {
      resultEqualsClear: got.count === clear.count && Math.abs((got.mean ?? NaN) - clear.mean) < 1e-9 && got.atOrAbove === clear.atOrAbove,
      clear,
      keyFilesSeen: records.filter((r) => r.keyFiles.length > 0).length,
      secretsChecked: secrets.length,
      secretInTaskInputOrResult: secrets.some((x) => x.length >= 16 && seen.includes(x)),
      keyFilesLeftAtEnd: [...new Set(records.filter((r) => r.method === 'partial').flatMap((r) => r.tmpAfter))],
    };
    const summary = {
      checks,
      image: opts.image, config: { entrypoint: config.entrypoint, user: config.user, workdir: config.workdir }, files: opts.files, work: WORK,
      central: { exitCode: central.exitCode, output: central.output, stderrTail: central.stderr.slice(-1500) },
      runs: records.sort((a, b) => a.seq - b.seq).map((r) => ({ seq: r.seq, org: r.organizationId, task: r.taskId, method: r.method, exit: r.exitCode, ms: r.ms, output: r.output.slice(0, 600), outputStat: r.outputStat, tmpAfter: r.tmpAfter, stderrTail: r.exitCode === 0 ? undefined : r.stderr.slice(-800) })),
      tasks: [...proxy.tasks.values()].map((t) => ({ id: t.id, name: t.name, parentId: t.parentId, runs: t.runIds.map((id) => proxy.runs.get(id)?.status) })),
      hookErrors: proxy.hookErrors.map(String),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    await proxy.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[v6-node] ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
