import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildRosterFromResults,
  checkAgreement,
  createNodeProxyClient,
  identityPath,
  keySubtask,
  loadPeerSession,
  loadProvisionedIdentity,
  readContainerEnv,
  runAlgorithm,
  runPeerTasks,
  type AlgorithmContext,
  type AlgorithmModule,
  type SubtaskResult,
} from '../../src/vantage6';
import { encodePublicKey, generateIdentity, createRoster, saveIdentity, rosterToJSON, parseRoster, rosterDigest, sessionRosterDigest } from '../../src/identity';
import { startFakeNodeProxy, type FakeNodeProxy, type FakeRun, type FakeTask } from '../support/fake-node-proxy';
import { collectingLogger, fakeJwt, tempDir, v6EncodeEnv } from './helpers';

const IMAGE = 'harbor.example/coupler-test:1';

/** What a station's compute container found in its state folder before it read its key. */
interface KeyFileSeen {
  mode: number;
  publicKey: string;
  file: string;
}

/** The algorithm every station and the central container run. */
function algorithm(options: { disagree?: string; seen?: Map<string, KeyFileSeen> } = {}): AlgorithmModule {
  return {
    async central(kwargs: Record<string, unknown>, ctx: AlgorithmContext) {
      const orgs = (await ctx.client.listOrganizations()).map((o) => o.id);
      const outcome = await runPeerTasks({ client: ctx.client, organizations: orgs, method: 'partial', kwargs, intervalMs: 20, maxIntervalMs: 100, timeoutMs: 20_000 });
      return { result: outcome.result, roster: outcome.roster?.toJSON(), sessionId: outcome.sessionId, keyTaskId: outcome.keyTaskId };
    },
    async partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext) {
      if (options.seen !== undefined) {
        const file = identityPath(ctx.stateFolder!, kwargs.keyTaskId as number);
        options.seen.set(ctx.organizationId!, { file, mode: statSync(file).mode & 0o777, publicKey: (JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string }).publicKey });
      }
      const session = await loadPeerSession(kwargs, ctx);
      if (ctx.organizationId === options.disagree) return { total: -1 };
      return { total: kwargs.total, parties: session.roster.ids, sessionId: session.sessionId, me: undefined };
    },
  };
}

interface Station {
  dir: string;
  tmp: string;
}

/** Execute every run of a task in process, the way a node would: files, encoded env, runAlgorithm. */
function executor(root: string, mod: () => AlgorithmModule, stations: Map<number, Station>) {
  let seq = 0;
  return async (task: FakeTask, runs: FakeRun[], proxy: FakeNodeProxy): Promise<void> => {
    await Promise.all(
      runs.map(async (run) => {
        let st = stations.get(run.organizationId);
        if (st === undefined) {
          const dir = join(root, `node-${run.organizationId}`);
          st = { dir, tmp: join(dir, 'tmp') };
          mkdirSync(st.tmp, { recursive: true });
          stations.set(run.organizationId, st);
        }
        const runDir = join(st.dir, `task-${String(++seq).padStart(9, '0')}`);
        mkdirSync(runDir);
        const files = { input: join(runDir, 'input'), output: join(runDir, 'output'), token: join(runDir, 'token') };
        writeFileSync(files.input, Buffer.from(run.inputBase64, 'base64'));
        writeFileSync(files.output, '');
        writeFileSync(files.token, proxy.issueToken({ organization_id: run.organizationId, task_id: task.id, collaboration_id: 7, image: IMAGE, node_id: 100 + run.organizationId }));
        const env = v6EncodeEnv({
          INPUT_FILE: files.input,
          OUTPUT_FILE: files.output,
          TOKEN_FILE: files.token,
          TEMPORARY_FOLDER: st.tmp,
          HOST: 'http://127.0.0.1',
          PORT: String(proxy.port),
          API_PATH: '',
        });
        const code = await runAlgorithm({ module: mod(), env, logger: collectingLogger() });
        // results appear late and in a scrambled order, as on a real server
        await new Promise((r) => setTimeout(r, 10 + ((run.organizationId * 37) % 50)));
        if (code === 0) proxy.completeRunRaw(run.id, readFileSync(files.output).toString('base64'));
        else proxy.crashRun(run.id);
      }),
    );
  };
}

describe('runPeerTasks: a full run against the fake node proxy', () => {
  let root: string;
  let cleanup: () => void;
  let proxy: FakeNodeProxy;
  let stations: Map<number, Station>;

  const start = async (mod: () => AlgorithmModule): Promise<void> => {
    stations = new Map();
    proxy = await startFakeNodeProxy({ onTask: executor(root, mod, stations) });
  };

  const runCentral = async (mod: AlgorithmModule): Promise<{ code: number; output: string; logger: ReturnType<typeof collectingLogger> }> => {
    const dir = join(root, 'central');
    mkdirSync(dir, { recursive: true });
    const files = { input: join(dir, 'input'), output: join(dir, 'output'), token: join(dir, 'token') };
    writeFileSync(files.input, JSON.stringify({ method: 'central', args: [], kwargs: { total: 42 } }));
    writeFileSync(files.output, '');
    writeFileSync(files.token, proxy.issueToken({ organization_id: 1, task_id: 50, collaboration_id: 7, image: IMAGE, node_id: 101 }));
    const logger = collectingLogger();
    const code = await runAlgorithm({
      module: mod,
      env: v6EncodeEnv({ INPUT_FILE: files.input, OUTPUT_FILE: files.output, TOKEN_FILE: files.token, TEMPORARY_FOLDER: join(dir, 'tmp'), HOST: 'http://127.0.0.1', PORT: String(proxy.port) }),
      logger,
    });
    return { code, output: readFileSync(files.output, 'utf8'), logger };
  };

  beforeEach(() => {
    ({ dir: root, cleanup } = tempDir());
  });
  afterEach(async () => {
    await proxy.close();
    cleanup();
  });

  test('key subtasks -> roster -> compute subtasks -> agreed result; each key file is gone when its compute subtask ends', async () => {
    const seen = new Map<string, KeyFileSeen>();
    await start(() => algorithm({ seen }));
    const { code, output, logger } = await runCentral(algorithm());
    expect(logger.lines.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(proxy.hookErrors).toEqual([]);
    expect(code).toBe(0);
    const out = JSON.parse(output) as { result: { total: number; parties: string[]; sessionId: string }; roster: { parties: { id: string; publicKey: string }[] }; sessionId: string; keyTaskId: number };
    expect(out.result.total).toBe(42);
    expect(out.result.parties).toEqual(['1', '2', '3']);
    expect(out.result.sessionId).toBe(out.sessionId);
    // The session id commits to the roster the key subtasks produced (a relay started with
    // --roster-bound-sessions admits the parties on it).
    expect(out.sessionId).toMatch(/^v6-50-[0-9a-f]{32}#[0-9a-f]{64}$/);
    expect(sessionRosterDigest(out.sessionId)).toBe(rosterDigest(parseRoster(out.roster)));
    expect(out.roster.parties.map((p) => p.id)).toEqual(['1', '2', '3']);

    // two tasks: keys, then compute; both created by the central container
    const tasks = [...proxy.tasks.values()];
    expect(tasks.map((t) => t.name)).toEqual(['coupler-keys', 'coupler-partial']);
    expect(tasks.every((t) => t.image === IMAGE && t.parentId === 50)).toBe(true);
    const computeInput = proxy.runsOf(tasks[1]!.id)[0]!.input as { method: string; kwargs: Record<string, unknown> };
    expect(computeInput.method).toBe('partial');
    expect(Object.keys(computeInput.kwargs).sort()).toEqual(['keyTaskId', 'roster', 'sessionId', 'total']);

    // each station's secret waited in its own temporary folder, mode 0600, matching the roster,
    // until its compute subtask read it; then it was deleted
    for (const party of out.roster.parties) {
      const file = identityPath(stations.get(Number(party.id))!.tmp, out.keyTaskId);
      expect(seen.get(party.id)).toEqual({ file, mode: 0o600, publicKey: party.publicKey });
      expect(existsSync(file)).toBe(false);
      expect(readdirSync(stations.get(Number(party.id))!.tmp)).toEqual([]);
    }
    // secrets never travel: no task input or result holds a secret seed
    for (const run of proxy.runs.values()) {
      expect(JSON.stringify(run.input)).not.toContain('secretSeed');
      expect(Buffer.from(run.result ?? '', 'base64').toString('utf8')).not.toContain('secretSeed');
    }
  });

  test('a peer that reports a different result is named', async () => {
    await start(() => algorithm({ disagree: '3' }));
    const { code, logger } = await runCentral(algorithm());
    expect(code).toBe(1);
    expect(logger.lines.at(-1)).toBe('error: COUPLER_ERR_PROTOCOL_VIOLATION: peers disagree on the result: organization(s) 3 differ from the majority (1, 2)');
  });

  test('a station whose key subtask crashes is named', async () => {
    await start(() => ({
      coupler_key_exchange: (_k: Record<string, unknown>, ctx: AlgorithmContext) => {
        if (ctx.organizationId === '2') throw new Error('no disk');
        return keySubtask(ctx);
      },
    }));
    const { code, logger } = await runCentral(algorithm());
    expect(code).toBe(1);
    expect(logger.lines.at(-1)).toMatch(/ended with status "crashed"; organizations that failed: 2$/);
  });

  test('runPeerTasks validates its options', async () => {
    proxy = await startFakeNodeProxy();
    const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, image: IMAGE }) });
    await expect(runPeerTasks({ client, organizations: [1], method: 'm' })).rejects.toThrow('at least two');
    await expect(runPeerTasks({ client, organizations: [1, 1], method: 'm' })).rejects.toThrow('duplicates');
    await expect(runPeerTasks({ client, organizations: [1, 2], method: 'm', kwargs: { roster: 1 } })).rejects.toThrow('"kwargs.roster" is reserved');
    await expect(runPeerTasks({ client, organizations: [1, 2], method: '' })).rejects.toThrow('"method"');
    expect(proxy.requests).toHaveLength(0);
  });
});

describe('roster from key results', () => {
  const announce = (org: number, publicKey: Uint8Array, claim: string | number = org, keyTaskId = 7): SubtaskResult => ({
    runId: 1000 + org,
    organizationId: org,
    result: { type: 'coupler-public-key', version: 1, organizationId: String(claim), publicKey: encodePublicKey(publicKey), keyTaskId: String(keyTaskId) },
  });
  const keys = [generateIdentity(), generateIdentity(), generateIdentity()].map((i) => i.publicKey);

  test('builds the roster from server-attributed results', () => {
    const roster = buildRosterFromResults([announce(2, keys[1]!), announce(1, keys[0]!)], { expectedOrganizations: [1, 2], keyTaskId: 7 });
    expect(roster.ids).toEqual(['1', '2']);
    expect(roster.verify('2', keys[1]!)).toBe(true);
  });

  test.each([
    ['claims another organization', () => [announce(1, keys[0]!, 2)], { peers: ['1'], message: 'key exchange: organization 1 returned a key that claims to belong to another organization' }],
    ['two keys from one organization', () => [announce(1, keys[0]!), announce(1, keys[1]!)], { peers: ['1'] }],
    ['malformed key', () => [{ ...announce(1, keys[0]!), result: { type: 'coupler-public-key', version: 1, organizationId: '1', publicKey: 'AAAA', keyTaskId: '7' } }], { message: 'key exchange: organization 1 returned a malformed public key' }],
    ['not an announcement', () => [{ runId: 1, organizationId: 1, result: 'hello' }], { peers: ['1'] }],
    ['key for another task', () => [announce(1, keys[0]!, 1, 8)], { message: 'key exchange: organization 1 returned a key made for another task' }],
    ['a missing organization', () => [announce(1, keys[0]!)], { peers: ['2'], message: 'key exchange: no key from organization(s) 2' }],
    ['an unexpected organization', () => [announce(1, keys[0]!), announce(2, keys[1]!), announce(3, keys[2]!)], { peers: ['3'] }],
    ['an unattributed result', () => [{ runId: 5, organizationId: undefined, result: {} }], { message: 'key exchange: the server did not attribute run 5 to an organization' }],
  ])('refuses %s', (_why, results, expected) => {
    let caught: unknown;
    try {
      buildRosterFromResults(results() as SubtaskResult[], { expectedOrganizations: [1, 2], keyTaskId: 7 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6', ...expected });
  });

  test('the same key for two organizations is refused', () => {
    expect(() => buildRosterFromResults([announce(1, keys[0]!), announce(2, keys[0]!)])).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_ROSTER_INVALID' }));
  });
});

describe('checkAgreement', () => {
  const r = (org: number, result: unknown): SubtaskResult => ({ runId: org, organizationId: org, result });
  test('deep-equal results agree regardless of key order', () => {
    expect(checkAgreement([r(1, { a: 1, b: [1, 2] }), r(2, { b: [1, 2], a: 1 })], [1, 2])).toEqual({ a: 1, b: [1, 2] });
  });
  test('no majority names everyone; missing results are named', () => {
    expect(() => checkAgreement([r(1, 1), r(2, 2)], [1, 2])).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['1', '2'] }));
    expect(() => checkAgreement([r(1, 1)], [1, 2])).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_VANTAGE6', peers: ['2'] }));
    expect(() => checkAgreement([r(1, 1), r(1, 1)])).toThrow('more than one result');
  });
});

describe('provisioned keys (option 1) and loadPeerSession', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const ctxFor = (env: Record<string, string>, organizationId: string | undefined, taskId = '9'): AlgorithmContext =>
    ({ organizationId, taskId, temporaryFolder: dir, stateFolder: dir, env: readContainerEnv(env), logger: collectingLogger() }) as unknown as AlgorithmContext;

  test('loads the mounted identity and roster, checks membership and party', async () => {
    const me = generateIdentity('2');
    const other = generateIdentity('1');
    await saveIdentity(join(dir, 'id.json'), me);
    writeFileSync(join(dir, 'roster.json'), rosterToJSON(createRoster([{ id: '1', publicKey: other.publicKey }, { id: '2', publicKey: me.publicKey }])));
    const env = { COUPLER_IDENTITY_FILE: join(dir, 'id.json'), COUPLER_ROSTER_FILE: join(dir, 'roster.json') };
    const loaded = await loadProvisionedIdentity({ env: v6EncodeEnv(env) });
    expect(loaded.partyId).toBe('2');
    await expect(loadProvisionedIdentity({ env, partyId: '1' })).rejects.toThrow('belongs to party 2, not to organization 1');
    await expect(loadProvisionedIdentity({ env: {} })).rejects.toThrow('COUPLER_IDENTITY_FILE is not set');

    const session = await loadPeerSession({}, ctxFor(env, '2'));
    expect(session).toMatchObject({ partyId: '2', sessionId: 'v6-task-9' });
    expect((await loadPeerSession({ sessionId: 's1' }, ctxFor(env, '2'))).sessionId).toBe('s1');

    const stranger = generateIdentity();
    await saveIdentity(join(dir, 'stranger.json'), stranger);
    await expect(loadProvisionedIdentity({ env: { ...env, COUPLER_IDENTITY_FILE: join(dir, 'stranger.json') } })).rejects.toThrow('not in the provisioned roster');
  });

  test('option 2: refuses a saved key that is not the roster key', async () => {
    const saved = generateIdentity('2');
    await saveIdentity(identityPath(dir, 77), saved);
    const rosterKey = generateIdentity('2');
    const roster = createRoster([{ id: '1', publicKey: generateIdentity().publicKey }, { id: '2', publicKey: rosterKey.publicKey }]).toJSON();
    await expect(loadPeerSession({ roster, sessionId: 's', keyTaskId: 77 }, ctxFor({}, '2'))).rejects.toThrow('the saved key of organization 2 is not its key in the roster');
    await expect(loadPeerSession({ roster, sessionId: 's', keyTaskId: 77 }, ctxFor({}, '3'))).rejects.toThrow('organization 3 is not in the roster');
    await expect(loadPeerSession({ roster, keyTaskId: 77 }, ctxFor({}, '2'))).rejects.toThrow('no "sessionId"');
    expect(() => identityPath(dir, '../x')).toThrow('"keyTaskId"');
  });
});

describe('the key file of a compute subtask (option 2) lives until the subtask has read it, and never beyond its end', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  /** One container run on a station whose state folder is `state`, as a node starts it (v4 or v5). */
  const runOn = async (
    state: string,
    version: 'v4' | 'v5',
    method: string,
    kwargs: Record<string, unknown>,
    mod: AlgorithmModule,
    signal?: AbortSignal,
  ): Promise<{ code: number; lines: string[] }> => {
    const run = join(dir, `run-${Math.random().toString(36).slice(2)}`);
    mkdirSync(run);
    const files = { input: join(run, 'input'), output: join(run, 'output'), token: join(run, 'token') };
    writeFileSync(files.input, JSON.stringify(version === 'v4' ? { method, args: [], kwargs } : kwargs));
    writeFileSync(files.output, '');
    const taskId = method === 'coupler_key_exchange' ? 77 : 78;
    // 4.x: no ORGANIZATION_ID / TASK_ID variables; both are claims of the token in TOKEN_FILE
    // (vantage6-node/vantage6/node/docker/task_manager.py:476-480 and 540-548, 4.14.0; claims:
    // vantage6-server/vantage6/server/resource/token.py:335-351). 5.x sets the variables
    // (vantage6-node/vantage6/node/k8s/container_manager.py:442-449, 5.0.0rc2).
    if (version === 'v4') writeFileSync(files.token, fakeJwt({ client_type: 'container', node_id: 12, organization_id: 2, collaboration_id: 1, task_id: taskId, image: 'img', databases: [] }));
    const common = { INPUT_FILE: files.input, OUTPUT_FILE: files.output };
    const env =
      version === 'v4'
        ? { ...common, TOKEN_FILE: files.token, TEMPORARY_FOLDER: state, HOST: 'http://proxyserver', PORT: '8080', API_PATH: '' }
        : { ...common, ALGORITHM_METHOD: method, FUNCTION_ACTION: 'federated_compute', SESSION_FOLDER: state, ORGANIZATION_ID: '2', TASK_ID: String(taskId) };
    const logger = collectingLogger();
    const code = await runAlgorithm({ module: mod, env: v6EncodeEnv(env), logger, ...(signal === undefined ? {} : { signal }) });
    return { code, lines: logger.lines };
  };

  /** Run the key subtask on the station; returns the roster input a compute subtask gets. */
  const keyExchange = async (state: string, version: 'v4' | 'v5'): Promise<Record<string, unknown>> => {
    const { code } = await runOn(state, version, 'coupler_key_exchange', {}, {});
    expect(code).toBe(0);
    const saved = JSON.parse(readFileSync(identityPath(state, 77), 'utf8')) as { publicKey: string };
    const roster = createRoster([
      { id: '1', publicKey: generateIdentity().publicKey },
      { id: '2', publicKey: Buffer.from(saved.publicKey, 'base64') },
    ]).toJSON();
    return { roster, sessionId: 's', keyTaskId: 77 };
  };

  for (const version of ['v4', 'v5'] as const) {
    test(`${version}: read twice in one subtask (loadPeerSession, then joinPeerGroup's own load), deleted after the first read`, async () => {
      const state = join(dir, 'state');
      mkdirSync(state);
      const kwargs = await keyExchange(state, version);
      const file = identityPath(state, 77);
      const seen: unknown[] = [];
      const { code, lines } = await runOn(state, version, 'partial', kwargs, {
        async partial(kw: Record<string, unknown>, ctx: AlgorithmContext) {
          const first = await loadPeerSession(kw, ctx);
          seen.push(existsSync(file));
          const second = await loadPeerSession(kw, ctx);
          seen.push(encodePublicKey(second.identity.publicKey) === encodePublicKey(first.identity.publicKey));
          // Another container (a fresh context) finds nothing to take.
          await expect(loadPeerSession(kw, { ...ctx, logger: collectingLogger() } as AlgorithmContext)).rejects.toThrow(
            'no secret key of key subtask 77 in the state folder: the key subtask did not run on this node, or another compute subtask already used it',
          );
          return 'ok';
        },
      });
      expect({ code, lines: lines.filter((l) => !l.startsWith('info')) }).toEqual({ code: 0, lines: [] });
      expect(seen).toEqual([false, true]);
      expect(readdirSync(state)).toEqual([]);
    });
  }

  test('a compute subtask that fails before reading its key still removes it; the key subtask keeps its own file', async () => {
    const state = join(dir, 'state');
    mkdirSync(state);
    const kwargs = await keyExchange(state, 'v4');
    expect(readdirSync(state)).toEqual(['coupler-identity-task-77.json']);
    const failing = await runOn(state, 'v4', 'partial', kwargs, {
      partial() {
        throw new Error('no rows');
      },
    });
    expect(failing).toEqual({ code: 1, lines: expect.arrayContaining(['error: Error: no rows']) });
    expect(readdirSync(state)).toEqual([]);

    // The method was not even found: the subtask ended all the same.
    await keyExchange(state, 'v5');
    expect((await runOn(state, 'v5', 'parital', kwargs, { partial: () => 1 })).code).toBe(1);
    expect(readdirSync(state)).toEqual([]);
  });

  test('on abort (SIGTERM/SIGINT in coupler run) the file goes at once, before the method has wound down', async () => {
    const state = join(dir, 'state');
    mkdirSync(state);
    const kwargs = await keyExchange(state, 'v5');
    const file = identityPath(state, 77);
    const ac = new AbortController();
    let atAbort: boolean | undefined;
    const { code } = await runOn(
      state,
      'v5',
      'partial',
      kwargs,
      {
        async partial(_kw: Record<string, unknown>, ctx: AlgorithmContext) {
          // Still waiting for the peers when the container is stopped.
          await new Promise<void>((resolve) => {
            ctx.signal!.addEventListener('abort', () => {
              atAbort = existsSync(file);
              resolve();
            });
            setImmediate(() => ac.abort(new Error('stopped by SIGTERM')));
          });
          throw ctx.signal!.reason;
        },
      },
      ac.signal,
    );
    expect(code).toBe(1);
    expect(atAbort).toBe(false);
    expect(readdirSync(state)).toEqual([]);
  });

  test('input that names no key subtask, or a key id that is not an id, deletes nothing', async () => {
    const state = join(dir, 'state');
    mkdirSync(state);
    await keyExchange(state, 'v4');
    writeFileSync(join(state, 'other.json'), '{}');
    expect((await runOn(state, 'v4', 'partial', { keyTaskId: '../state/other.json' }, { partial: () => 1 })).code).toBe(0);
    expect((await runOn(state, 'v4', 'partial', {}, { partial: () => 1 })).code).toBe(0);
    expect(readdirSync(state).sort()).toEqual(['coupler-identity-task-77.json', 'other.json']);
  });
});
