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
import { freePort as freePortOn } from '../../src/cli/ports';
import { join } from 'node:path';
import { encodeNodeEnvValue } from '../../src/cli/simulate';
import { writeDataframe } from '../../src/cli/dataframes';
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
  /**
   * The vantage6 version the node plays (default `v4`). `v5`, as a 5.x node on Kubernetes runs
   * containers (vantage6-node/vantage6/node/k8s/container_manager.py, 5.0): kwargs-only
   * `INPUT_FILE`, `ALGORITHM_METHOD`, `FUNCTION_ACTION`, a `SESSION_FOLDER` per station shared by
   * the session's tasks (no `TEMPORARY_FOLDER`, no `TOKEN_FILE`), `CONTAINER_TOKEN` for the central
   * container only, the data as the Parquet dataframe `default` in the session folder, and no VPN:
   * the compute containers reach each other through the relay at `relayUrl` only
   * (`COUPLER_TRANSPORT=relay` from the node's `algorithm_env`, see `transportFrom`), with the
   * egress deploy/vantage6-v5-node-values.yaml opens.
   */
  readonly version?: 'v4' | 'v5';
  /** v5: the relay compute containers dial (required with `version: 'v5'`). */
  readonly relayUrl?: string;
  /**
   * v5: how the containers learn the relay. `algorithm_env` (default): the node's configuration
   * `algorithm_env` holds `COUPLER_TRANSPORT=relay` and `COUPLER_RELAY_URL`, which the 5.x node
   * adds to every algorithm container's environment, base32-encoded like the rest
   * (vantage6-node/vantage6/node/k8s/container_manager.py, release/5.0: `self.ctx.config.get("algorithm_env")`).
   * `none`: the node sets nothing (the researcher passes `couplerTransport`/`couplerRelayUrl` in
   * the task's kwargs).
   */
  readonly transportFrom?: 'algorithm_env' | 'none';
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

function freePort(): Promise<number> {
  return freePortOn('127.0.0.1');
}

/** Start the proxy and the executor. */
export async function startFakeCollaboration(options: FakeCollaborationOptions): Promise<FakeCollaboration> {
  const cli = builtCli();
  const v5 = options.version === 'v5';
  if (v5 && options.relayUrl === undefined) throw new Error('a v5 collaboration needs relayUrl (5.x nodes have no VPN)');
  // v5: each station's data as the Parquet dataframe "default" in its session folder.
  if (v5) {
    for (const [org, file] of options.data) {
      mkdirSync(join(options.root, `node-${org}`, 'session'), { recursive: true, mode: 0o700 });
      await writeDataframe(file, join(options.root, `node-${org}`, 'session', 'default.parquet'));
    }
  }
  // v5: the operator's algorithm_env, given to every container the node starts.
  const algorithmEnv: Record<string, string> = v5 && options.transportFrom !== 'none' ? { COUPLER_TRANSPORT: 'relay', COUPLER_RELAY_URL: options.relayUrl! } : {};
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
    central = false,
  ): { record: ContainerRecord; done: Promise<{ exitCode: number | null; outputFile: string }> } => {
    const station = join(options.root, `node-${organizationId}`);
    const runDir = join(station, `task-${String(++seq).padStart(9, '0')}`);
    mkdirSync(join(station, v5 ? 'session' : 'tmp'), { recursive: true, mode: 0o700 });
    mkdirSync(runDir, { recursive: true });
    const files = { input: join(runDir, 'input'), output: join(runDir, 'output'), token: join(runDir, 'token') };
    const parsed = JSON.parse(input.toString('utf8')) as { method?: string; kwargs?: unknown };
    // v5: the input file holds the kwargs only; the method comes in ALGORITHM_METHOD.
    writeFileSync(files.input, v5 ? JSON.stringify(parsed.kwargs ?? {}) : input);
    writeFileSync(files.output, '');
    const claims = { organization_id: organizationId, task_id: taskId, collaboration_id: proxy.collaborationId, image: IMAGE, node_id: 100 + organizationId, ...(v5 ? { session_id: 7 } : {}) };
    const data = options.data.get(organizationId);
    const raw: Record<string, string> = v5
      ? {
          INPUT_FILE: files.input,
          OUTPUT_FILE: files.output,
          ALGORITHM_METHOD: parsed.method ?? '',
          FUNCTION_ACTION: central ? 'central_compute' : 'federated_compute',
          SESSION_FOLDER: join(station, 'session'),
          TASK_ID: String(taskId),
          NODE_ID: String(100 + organizationId),
          ORGANIZATION_ID: String(organizationId),
          COLLABORATION_ID: String(proxy.collaborationId),
          ...(central ? { HOST: 'http://127.0.0.1', PORT: String(proxy.port) } : {}),
          ...(data === undefined || central ? {} : { USER_REQUESTED_DATAFRAMES: 'default' }),
          ...algorithmEnv,
          ...options.env,
          ...options.stationEnv?.get(organizationId),
          ...extraEnv,
        }
      : {
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
    if (!v5) writeFileSync(files.token, proxy.issueToken(claims));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? options.root, PKG_NAME: options.algorithm };
    for (const [k, v] of Object.entries(raw)) env[k] = encodeNodeEnvValue(v);
    // v5: the central container's token comes raw from a Kubernetes Secret.
    if (v5 && central) env.CONTAINER_TOKEN = proxy.issueToken(claims);
    const tsx = options.algorithm.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...tsx, cli, 'run'], { env, cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    const method = parsed.method ?? '?';
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
        // run.input is always in the v4 shape {method, args, kwargs}; startContainer writes each
        // version's file from it.
        const input = v5 ? Buffer.from(JSON.stringify(run.input)) : Buffer.from(run.inputBase64, 'base64');
        const compute = (run.input as { method?: string }).method !== 'coupler_key_exchange';
        let extra: Record<string, string> = {};
        // No VPN on 5.x: the task pods dial out to the relay (egress only), as the node's
        // algorithm_env (or the task's kwargs) says.
        if (compute && !v5) {
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

  const proxy = await startFakeNodeProxy({ onTask, ...(v5 ? { version: 'v5' as const } : {}) });
  return {
    proxy,
    containers,
    async runCentral(method, kwargs, organizationId = 1, taskId = 50) {
      const input = Buffer.from(JSON.stringify({ method, args: [], kwargs }));
      const { record, done } = startContainer(proxy, organizationId, taskId, input, {}, true);
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
