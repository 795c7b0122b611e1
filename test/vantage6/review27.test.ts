/**
 * review27 — the vantage6 contract against vantage6's newest stored source (tags version/4.14.0
 * and version/5.0.0rc2). One `describe` per finding; each builds the node's side field by field
 * from the vantage6 file it names. Loopback only.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRelay, type RelayServer } from '../../src/relay';
import { decodeProcessLevelVariables } from '../../src/vantage6';
import { makeParties } from '../support/group-harness';
import { fakeJwt, v6Encode, v6EncodeEnv } from './helpers';
import { startConnectProxy } from '../support/connect-proxy';

jest.setTimeout(90_000);

const ROOT = resolve(__dirname, '../..');
const RUNNER = join(__dirname, 'fixtures', 'run-container.ts');
const ALGORITHM = join(__dirname, 'fixtures', 'review27-algorithm.ts');

function runChild(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', RUNNER], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      done({ code, stdout, stderr });
    });
  });
}


describe('R27-1: a 4.14 node with a whitelist names its egress proxy (and algorithm_env values) base32-encoded', () => {
  // vantage6 4.14, vantage6-node/vantage6/node/docker/task_manager.py:
  //   :540-548  INPUT_FILE, OUTPUT_FILE, TOKEN_FILE, TEMPORARY_FOLDER, HOST=http://<proxy host>, PORT, API_PATH=""
  //   :558-580  with a squid proxy (the node's `whitelist`): HTTP_PROXY, http_proxy, HTTPS_PROXY,
  //             https_proxy = squid.address (docker/squid.py:89,92,122-132: "http://squid:3128"),
  //             NO_PROXY, no_proxy = ", ".join([<vpn subnet>, "localhost", <proxy host>])
  //   :620-640  USER_REQUESTED_DATABASE_LABELS, <LABEL>_DATABASE_URI/_TYPE, DB_LABELS
  //   :642-645  the node's algorithm_env merged in
  //   :660-664  every one of these values base32-encoded with `=` → `!` (_encode, :886-936)
  // The isolated network is `internal` (vantage6-node/vantage6/node/__init__.py:144-151), so the
  // squid proxy is the container's only way out. vantage6's wrapper decodes all of os.environ
  // before the algorithm runs (vantage6-algorithm-tools/vantage6/algorithm/tools/wrap.py:56-57,
  // 184-194), so a Python algorithm's HTTP client sees the plain proxy URL.
  // The squid at http://squid:3128 is replaced by a CONNECT proxy on 127.0.0.1 (no DNS name here).
  const cleanups: (() => Promise<void>)[] = [];
  const relays: RelayServer[] = [];
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  let certFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'coupler-r27-'));
    certFile = join(dir, 'relay-ca.pem');
    const keyFile = join(dir, 'relay-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=coupler r27 relay', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    cert = readFileSync(certFile);
    key = readFileSync(keyFile);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await Promise.all(cleanups.splice(0).map((c) => c()));
  });

  test('coupler run reaches a wss:// relay through the node proxy named by HTTPS_PROXY, trusting the CA named by COUPLER_RELAY_CA (algorithm_env)', async () => {
    const relay = await startRelay({ rosters: [makeParties(2).roster], tls: { cert, key } });
    relays.push(relay);
    const relayUrl = `wss://127.0.0.1:${relay.port}`;
    // A CONNECT proxy on 127.0.0.1 stands in for the node's squid.
    const proxy = await startConnectProxy();
    cleanups.push(() => proxy.close());
    const task = join(dir, 'task-000000042');
    execFileSync('mkdir', ['-p', task]);
    const files = { input: join(task, 'input'), output: join(task, 'output'), token: join(task, 'token') };
    // The v4 input (wrap.py: {method, args, kwargs}) and the files as the node creates them (:471-483).
    writeFileSync(files.input, JSON.stringify({ method: 'relay_probe', args: [], kwargs: { relayUrl, exemptUrl: 'ws://proxyserver:8080' } }));
    writeFileSync(files.output, '');
    writeFileSync(files.token, fakeJwt({ client_type: 'container', node_id: 3, organization_id: 2, collaboration_id: 1, study_id: null, store_id: null, task_id: 42, image: 'img', databases: [] }));
    const noProxy = ['10.76.0.0/16', 'localhost', 'proxyserver'].join(', ');
    const env: Record<string, string> = {
      ...v6EncodeEnv({
        INPUT_FILE: files.input,
        OUTPUT_FILE: files.output,
        TOKEN_FILE: files.token,
        TEMPORARY_FOLDER: dir,
        HOST: 'http://proxyserver',
        PORT: '8080',
        API_PATH: '',
        HTTP_PROXY: proxy.url,
        http_proxy: proxy.url,
        HTTPS_PROXY: proxy.url,
        https_proxy: proxy.url,
        NO_PROXY: noProxy,
        no_proxy: noProxy,
        USER_REQUESTED_DATABASE_LABELS: '',
        DB_LABELS: '',
        // the operator's algorithm_env (README "Relay settings on a real node"; deploy/README.md)
        COUPLER_TRANSPORT: 'relay',
        COUPLER_RELAY_URL: relayUrl,
        COUPLER_RELAY_CA: certFile,
      }),
      PKG_NAME: ALGORITHM, // from the image, never encoded (ENV_VARS_NOT_SETTABLE_BY_NODE)
    };
    expect(env.HTTPS_PROXY).toBe(v6Encode(proxy.url));
    const out = await runChild(env);
    expect(out.stderr).toContain('finished');
    expect(out.code).toBe(0);
    const result = JSON.parse(readFileSync(files.output, 'utf8'));
    expect(result).toEqual({ proxy: proxy.url, exemptProxy: null, outcome: 'open' });
    expect(proxy.targets).toEqual([`127.0.0.1:${relay.port}`]);
  });

  test('5.0: coupler run trusts the relay CA named by COUPLER_RELAY_CA from node.algorithm_env (encoded like every value the node sets)', async () => {
    // vantage6 5.0.0rc2, vantage6-node/vantage6/node/k8s/container_manager.py: HOST/PORT/API_PATH
    // (:424-440), ALGORITHM_METHOD, FUNCTION_ACTION, TASK_ID, NODE_ID, ORGANIZATION_ID,
    // COLLABORATION_ID (:442-451), the node's algorithm_env (:453-469), all base32-encoded
    // (:473, _encode_environment_variables); INPUT_FILE/OUTPUT_FILE/SESSION_FOLDER/SESSION_FILE
    // (:951-962) and USER_REQUESTED_DATAFRAMES (:1020). No token for federated_compute (:429-430).
    // Egress to the relay is the chart's node.whitelist.federated_compute.egress (deploy/README.md):
    // no proxy variables.
    const relay = await startRelay({ rosters: [makeParties(2).roster], tls: { cert, key } });
    relays.push(relay);
    const relayUrl = `wss://127.0.0.1:${relay.port}`;
    const task = join(dir, 'v5-task');
    const session = join(dir, 'v5-session');
    execFileSync('mkdir', ['-p', task, session]);
    const files = { input: join(task, 'input'), output: join(task, 'output') };
    writeFileSync(files.input, JSON.stringify({ relayUrl })); // v5 input: the kwargs only (wrap.py load_input)
    writeFileSync(files.output, '');
    const env: Record<string, string> = {
      ...v6EncodeEnv({
        OUTPUT_FILE: files.output,
        INPUT_FILE: files.input,
        SESSION_FOLDER: session,
        SESSION_FILE: join(session, 'session_state.parquet'),
        USER_REQUESTED_DATAFRAMES: '',
        HOST: 'http://v6-node-hq-proxy.vantage6.svc.cluster.local',
        PORT: '7654',
        API_PATH: '',
        ALGORITHM_METHOD: 'relay_probe',
        FUNCTION_ACTION: 'federated_compute',
        TASK_ID: '42',
        NODE_ID: '3',
        ORGANIZATION_ID: '2',
        COLLABORATION_ID: '1',
        COUPLER_TRANSPORT: 'relay',
        COUPLER_RELAY_URL: relayUrl,
        COUPLER_RELAY_CA: certFile,
      }),
      PKG_NAME: ALGORITHM,
    };
    const out = await runChild(env);
    expect(out.stderr).toContain('finished');
    expect(out.code).toBe(0);
    expect(JSON.parse(readFileSync(files.output, 'utf8'))).toEqual({ proxy: null, exemptProxy: null, outcome: 'open' });
  });
});

describe('R27-1: decodeProcessLevelVariables', () => {
  test('decodes what a node encoded, leaves plain values, and a second call changes nothing', () => {
    const env: NodeJS.ProcessEnv = {
      HTTPS_PROXY: v6Encode('http://squid:3128'),
      no_proxy: v6Encode('10.76.0.0/16, localhost, proxyserver'),
      HTTP_PROXY: 'http://user:pw@proxy.internal:3128',
      COUPLER_RELAY_CA: v6Encode('/app/relay-ca.pem'),
      INPUT_FILE: v6Encode('/mnt/data/task-000000001/input'),
    };
    expect(decodeProcessLevelVariables(env).sort()).toEqual(['COUPLER_RELAY_CA', 'HTTPS_PROXY', 'no_proxy']);
    expect(env).toEqual({
      HTTPS_PROXY: 'http://squid:3128',
      no_proxy: '10.76.0.0/16, localhost, proxyserver',
      HTTP_PROXY: 'http://user:pw@proxy.internal:3128',
      COUPLER_RELAY_CA: '/app/relay-ca.pem',
      INPUT_FILE: v6Encode('/mnt/data/task-000000001/input'), // read through readContainerEnv, left alone
    });
    expect(decodeProcessLevelVariables(env)).toEqual([]);
  });
});
