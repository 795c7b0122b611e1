/**
 * A vantage6 v4 collaboration on one machine, for the central example's test: the fake node proxy
 * of test/support (the v4 proxy endpoints on 127.0.0.1) plus an executor that runs every run of
 * every task as a real `coupler run` process, the way a node starts an algorithm container:
 * per-run input/output/token files, a per-station TEMPORARY_FOLDER shared by that station's
 * containers, the database environment, every value base32-encoded as the node does it.
 *
 * The v4 VPN is replaced by loopback: each compute container is told its own port
 * (COUPLER_LISTEN_HOST/COUPLER_PORT, as a node's algorithm environment could) and the executor
 * registers that address with the proxy's `/vpn/algorithm/addresses`, where the containers'
 * default discovery (`vantage6-vpn`) finds it.
 *
 * Test-only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { encodeNodeEnvValue } from '../../src/cli/simulate';
import { startFakeNodeProxy, type FakeNodeProxy, type FakeRun, type FakeTask } from '../../test/support/fake-node-proxy';
import { REPO, builtCli } from './harness';

/** The image every task names (the proxy checks that subtasks use the creator's image). */
export const IMAGE = 'coupler-central-example:test';

/** What one container did. */
export interface ContainerRecord {
  readonly taskId: number;
  readonly organizationId: number;
  readonly method: string;
  exitCode: number | null;
  stderr: string;
}

/** Options of {@link startFakeCollaboration}. */
export interface FakeCollaborationOptions {
  /** The algorithm module every container runs (PKG_NAME). */
  readonly algorithm: string;
  /** Each organization's data file (its database "default"), by organization id. */
  readonly data: ReadonlyMap<number, string>;
  /** A scratch folder for the stations' files. */
  readonly root: string;
  /** Extra environment for every container (unencoded; encoded as the node does). */
  readonly env?: Record<string, string>;
  /** Extra environment for the containers of one organization (e.g. its provisioned key files). */
  readonly stationEnv?: ReadonlyMap<number, Record<string, string>>;
}

export interface FakeCollaboration {
  readonly proxy: FakeNodeProxy;
  readonly containers: ContainerRecord[];
  /** Run a method in a central container at `organizationId` as task `taskId`; resolves when it exits. */
  runCentral(method: string, kwargs: Record<string, unknown>, organizationId?: number, taskId?: number): Promise<{ exitCode: number | null; output: unknown; stderr: string }>;
  /** Wait until every container started so far has exited. */
  settle(): Promise<void>;
  /** Kill what still runs and stop the proxy. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Start the proxy and the executor. */
export async function startFakeCollaboration(options: FakeCollaborationOptions): Promise<FakeCollaboration> {
  const cli = builtCli();
  const containers: ContainerRecord[] = [];
  const children = new Set<ChildProcess>();
  const exits: Promise<void>[] = [];
  let seq = 0;

  /** Start one container: files, encoded environment, `node <cli> run`; resolves with its exit code. */
  const startContainer = (
    proxy: FakeNodeProxy,
    organizationId: number,
    taskId: number,
    input: Buffer,
    extraEnv: Record<string, string>,
  ): { record: ContainerRecord; done: Promise<{ exitCode: number | null; outputFile: string }> } => {
    const station = join(options.root, `node-${organizationId}`);
    const runDir = join(station, `task-${String(++seq).padStart(9, '0')}`);
    mkdirSync(join(station, 'tmp'), { recursive: true, mode: 0o700 });
    mkdirSync(runDir, { recursive: true });
    const files = { input: join(runDir, 'input'), output: join(runDir, 'output'), token: join(runDir, 'token') };
    writeFileSync(files.input, input);
    writeFileSync(files.output, '');
    writeFileSync(files.token, proxy.issueToken({ organization_id: organizationId, task_id: taskId, collaboration_id: proxy.collaborationId, image: IMAGE, node_id: 100 + organizationId }));
    const data = options.data.get(organizationId);
    const raw: Record<string, string> = {
      INPUT_FILE: files.input,
      OUTPUT_FILE: files.output,
      TOKEN_FILE: files.token,
      TEMPORARY_FOLDER: join(station, 'tmp'),
      HOST: 'http://127.0.0.1',
      PORT: String(proxy.port),
      API_PATH: '',
      ...(data === undefined ? {} : { USER_REQUESTED_DATABASE_LABELS: 'default', DEFAULT_DATABASE_URI: data, DEFAULT_DATABASE_TYPE: 'csv' }),
      ...options.env,
      ...options.stationEnv?.get(organizationId),
      ...extraEnv,
    };
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? options.root, PKG_NAME: options.algorithm };
    for (const [k, v] of Object.entries(raw)) env[k] = encodeNodeEnvValue(v);
    const tsx = options.algorithm.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...tsx, cli, 'run'], { env, cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    const method = (JSON.parse(input.toString('utf8')) as { method?: string }).method ?? '?';
    const record: ContainerRecord = { taskId, organizationId, method, exitCode: null, stderr: '' };
    containers.push(record);
    child.stderr!.on('data', (d: Buffer) => void (record.stderr += d.toString('utf8')));
    const done = new Promise<{ exitCode: number | null; outputFile: string }>((resolveDone) => {
      child.once('exit', (code) => {
        children.delete(child);
        record.exitCode = code;
        resolveDone({ exitCode: code, outputFile: files.output });
      });
    });
    exits.push(done.then(() => undefined));
    return { record, done };
  };

  const onTask = async (task: FakeTask, runs: FakeRun[], proxy: FakeNodeProxy): Promise<void> => {
    await Promise.all(
      runs.map(async (run) => {
        const input = Buffer.from(run.inputBase64, 'base64');
        const compute = (run.input as { method?: string }).method !== 'coupler_key_exchange';
        let extra: Record<string, string> = {};
        if (compute) {
          // The node would map a VPN port to the container's EXPOSEd 8888 and list it; here the
          // container listens on its own loopback port and the executor lists that.
          const port = await freePort();
          extra = { COUPLER_LISTEN_HOST: '127.0.0.1', COUPLER_PORT: String(port) };
          proxy.vpnAddresses.push({ ip: '127.0.0.1', port, label: 'coupler', organization_id: run.organizationId, task_id: task.id, parent_id: task.parentId ?? null });
        }
        const { done } = startContainer(proxy, run.organizationId, task.id, input, extra);
        const { exitCode, outputFile } = await done;
        if (exitCode === 0) proxy.completeRunRaw(run.id, readFileSync(outputFile).toString('base64'));
        else proxy.crashRun(run.id);
      }),
    );
  };

  const proxy = await startFakeNodeProxy({ onTask });
  return {
    proxy,
    containers,
    async runCentral(method, kwargs, organizationId = 1, taskId = 50) {
      const input = Buffer.from(JSON.stringify({ method, args: [], kwargs }));
      const { record, done } = startContainer(proxy, organizationId, taskId, input, {});
      const { exitCode, outputFile } = await done;
      const text = readFileSync(outputFile, 'utf8');
      return { exitCode, output: text.length > 0 ? (JSON.parse(text) as unknown) : undefined, stderr: record.stderr };
    },
    async settle() {
      for (;;) {
        const n = exits.length;
        await Promise.all(exits);
        if (exits.length === n && children.size === 0) return;
      }
    },
    async close() {
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(exits);
      await proxy.close();
    },
  };
}
