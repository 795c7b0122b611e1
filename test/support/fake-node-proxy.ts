/**
 * A fake vantage6 node proxy for tests: a real HTTP server on 127.0.0.1, port 0.
 *
 * Endpoints, with the vantage6 source each shape was checked against (tag version/4.14.0 unless
 * named; review10 corrected the token claim, the creation status and `blob_storage_used`):
 * - `POST /task` `{name, image, collaboration_id, description, organizations: [{id, input: base64}], databases}`
 *   → 201 `{id, ...}` (vantage6-algorithm-tools/vantage6/algorithm/client/__init__.py `Task.create`;
 *   vantage6-node/vantage6/node/proxy_server.py `proxy_task`; vantage6-server/vantage6/server/resource/task.py:876);
 *   one run per organization. The `onTask` hook executes the runs.
 * - `GET /task/<id>/status` → `{status}` (resource/task.py `TaskStatus.get`; statuses
 *   vantage6-common/vantage6/common/task_status.py): `active` until every run completed, `failed` if one failed.
 * - `GET /result?task_id=` → paginated `{data, links}` of `{id, result, task, blob_storage_used}`, no
 *   organization (resource/common/output_schema.py `ResultSchema` excludes it; model/run.py has
 *   `blob_storage_used`); results are base64 JSON (proxy_server.py `decrypt_result`).
 *   `GET /run?task_id=` → `{id, status, task, organization: {id}}` (output_schema.py `RunSchema`).
 *   Paging: vantage6-backend-common/vantage6/backend/common/resource/pagination.py (`links.next`).
 * - `GET /organization?collaboration_id=` → paginated organizations; `GET /organization/<id>` with
 *   `public_key` (resource/organization.py).
 * - `GET /vpn/algorithm/addresses` → `{addresses: [{port, label, ip, organization_id, task_id, parent_id}]}`
 *   filtered by `label` (resource/port.py `VPNAddress.get`).
 * - container tokens: `sub` = resource/token.py:335-351 (4.14.0), vantage6-hq/vantage6/hq/resource/token.py:178-193 (5.0.0rc2).
 *
 * Every request must carry `Authorization: Bearer <token>` with a token the proxy issued
 * ({@link FakeNodeProxy.issueToken}); otherwise 401. Hooks: `failNext` (answer N times with a status),
 * `stallNext` (never answer), `oversizeNext` (a huge body), result completion at any time.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

/** Claims put in an issued token's `sub`. */
export interface FakeClaims {
  client_type?: string;
  node_id?: number;
  organization_id?: number;
  collaboration_id?: number;
  task_id?: number;
  image?: string;
  databases?: unknown[];
  study_id?: number;
  store_id?: number;
  /** v5: the session of the task (HQ requires it on subtasks). */
  session_id?: number;
}

/** A task created through the fake. */
export interface FakeTask {
  id: number;
  name: string;
  image: string;
  collaborationId: number | undefined;
  description: string | undefined;
  databases: unknown;
  /** Task id of the container that created it (from its token). */
  parentId: number | undefined;
  /** The POST body as received. */
  body: Record<string, unknown>;
  /** Organization of the container that created it (from its token). */
  creatorOrganizationId: number | undefined;
  runIds: number[];
  /** Forced status (else derived from the runs). */
  status?: string;
}

/** One run: one organization's part of a task. */
export interface FakeRun {
  id: number;
  taskId: number;
  organizationId: number;
  /** The decoded input (JSON) the organization's container gets. */
  input: unknown;
  /** Raw base64 input as received. */
  inputBase64: string;
  status: 'pending' | 'active' | 'completed' | 'crashed';
  /** base64 of the JSON result, once completed. */
  result: string | null;
  /** The result is a blob UUID (`blob_storage_used`). */
  blobStorageUsed?: boolean;
}

/** One logged request. */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorized: boolean;
  body: unknown;
}

/** Options of {@link startFakeNodeProxy}. */
export interface FakeNodeProxyOptions {
  /** Organizations of the collaboration (default ids 1, 2, 3). */
  organizations?: { id: number; name: string }[];
  /** Collaboration id (default 7). */
  collaborationId?: number;
  /** Page size of lists (default 10). */
  pageSize?: number;
  /** Put `organization: {id}` into `/result` entries (default false: only `/run` says who). */
  resultsIncludeOrganization?: boolean;
  /** Called after a task is created (not awaited by the HTTP answer). */
  onTask?: (task: FakeTask, runs: FakeRun[], proxy: FakeNodeProxy) => void | Promise<void>;
  /**
   * The vantage6 version whose `POST /task` rules apply (default `'v4'`). `'v5'` validates bodies
   * as HQ's TaskInputSchema does (vantage6-hq/vantage6/hq/resource/common/input_schema.py, 5.0:
   * `image` and `method` required, `session_id` an integer ≥ 1, `organizations` a list of objects,
   * `databases` a list of lists, `action` one of the algorithm step types) and, like the 5.0 proxy
   * (vantage6-node/vantage6/node/proxy_server.py), encrypts each organization's `arguments`: a v4
   * `input` field there makes it fail with HTTP 500.
   */
  version?: 'v4' | 'v5';
  /**
   * vantage6 4.13+ `large_result_store` (blob store): `GET /blobstream/status` says enabled,
   * `POST /blobstream` (needs `X-Public-Key`, as the node proxy does) is forwarded the way the
   * node proxy forwards it to a fake server that stores the blob and answers `201 {uuid}`,
   * `GET /blobstream/<uuid>` streams it back decrypted; task inputs may then be blob UUIDs and
   * {@link FakeNodeProxy.completeRunBlob} stores a result as a blob (`blob_storage_used`).
   * Shapes from vantage6-node/vantage6/node/proxy_server.py (`stream_handler_post`, 4.14.0 and
   * release/5.0), vantage6-server/vantage6/server/resource/blobstream.py (`BlobStream.post`,
   * 4.14.0) and vantage6-common/vantage6/common/client/blob_storage.py (4.14.0). Default: no blob
   * store (the status route answers 404, as servers before 4.13 do).
   */
  blobStore?: boolean;
}

/** Largest request body the fake accepts, in bytes. */
const MAX_FAKE_BODY_BYTES = 16 * 1024 * 1024;
/** Separator of the fake blob cipher's header (vantage6-common/vantage6/common/encryption.py uses `$`). */
const BLOB_SEPARATOR = '$';

/**
 * The fake proxy's stand-in for `cryptor.encrypt_stream` (vantage6-common/vantage6/common/encryption.py):
 * a header naming the key, then the bytes base64-encoded in multiples of 3 as they arrive (what
 * the unencrypted collaboration's `DummyCryptor.encrypt_stream` yields). Like the real streams,
 * it is longer than its input and yields chunks of its own sizes.
 */
async function* fakeEncryptStream(source: AsyncIterable<Buffer>, publicKey: string): AsyncGenerator<Buffer> {
  yield Buffer.from(`${publicKey}${BLOB_SEPARATOR}`, 'utf8');
  let pending = Buffer.alloc(0);
  for await (const chunk of source) {
    pending = Buffer.concat([pending, chunk]);
    const whole = pending.length - (pending.length % 3);
    if (whole === 0) continue;
    yield Buffer.from(pending.subarray(0, whole).toString('base64'), 'utf8');
    pending = pending.subarray(whole);
  }
  if (pending.length > 0) yield Buffer.from(pending.toString('base64'), 'utf8');
}

/** Encrypt a whole blob as {@link fakeEncryptStream} does. */
function fakeEncrypt(bytes: Buffer, publicKey: string): Buffer {
  return Buffer.from(`${publicKey}${BLOB_SEPARATOR}${bytes.toString('base64')}`, 'utf8');
}

/** Undo {@link fakeEncrypt}: the key the blob was encrypted for, and its bytes. */
function fakeDecrypt(stored: Buffer): { publicKey: string; bytes: Buffer } {
  const text = stored.toString('utf8');
  const at = text.indexOf(BLOB_SEPARATOR);
  if (at < 0) throw new Error('fake blob store: blob has no header');
  return { publicKey: text.slice(0, at), bytes: Buffer.from(text.slice(at + 1), 'base64') };
}

/** The base64 public key the fake proxy hands out for an organization (`GET /organization/<id>`). */
export function fakePublicKeyOf(organizationId: number): string {
  return Buffer.from(`fake public key of ${organizationId}`).toString('base64');
}

/** `AlgorithmStepType` values of vantage6 5.0 (vantage6-common/vantage6/common/enum.py). */
const V5_ACTIONS = ['data_extraction', 'preprocessing', 'federated_compute', 'central_compute', 'postprocessing'];

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export class FakeNodeProxy {
  readonly server: Server;
  url = '';
  port = 0;
  readonly tasks = new Map<number, FakeTask>();
  readonly runs = new Map<number, FakeRun>();
  readonly requests: FakeRequest[] = [];
  /** Raw VPN address entries served by `/vpn/algorithm/addresses`. */
  vpnAddresses: Record<string, unknown>[] = [];
  /** When set, `/vpn/algorithm/addresses` answers this body instead. */
  vpnBodyOverride: unknown = undefined;
  readonly organizations: { id: number; name: string }[];
  readonly collaborationId: number;
  readonly pageSize: number;
  readonly options: FakeNodeProxyOptions;
  readonly hookErrors: unknown[] = [];
  readonly #tokens = new Map<string, FakeClaims>();
  readonly #failures: { match: string; status: number; times: number }[] = [];
  readonly #stalls: { match: string; times: number }[] = [];
  readonly #oversize: { match: string; bytes: number; times: number }[] = [];
  /** Blobs of the fake server's blob store, by UUID, as stored: encrypted by the proxy (see {@link FakeNodeProxy.blobPlaintext}). */
  readonly blobs = new Map<string, Buffer>();
  /** Raw heads (request line and headers) of the `/blobstream` uploads the fake server received, in order. */
  readonly blobUploadHeads: string[] = [];
  /** The fake vantage6 server behind the proxy (only `/blobstream` uploads go through it). */
  readonly #server: Server;
  #serverPort = 0;
  #nextTask = 100;
  #nextRun = 1000;

  constructor(options: FakeNodeProxyOptions = {}) {
    this.options = options;
    this.organizations = options.organizations ?? [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
      { id: 3, name: 'three' },
    ];
    this.collaborationId = options.collaborationId ?? 7;
    this.pageSize = options.pageSize ?? 10;
    this.server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.hookErrors.push(err);
        if (!res.headersSent) this.#json(res, 500, { msg: 'fake proxy error' });
      });
    });
    this.#server = createServer((req, res) => {
      this.#serveBlobUpload(req, res).catch((err: unknown) => {
        this.hookErrors.push(err);
        if (!res.headersSent) this.#json(res, 500, { msg: 'Error uploading result!' });
      });
    });
    // A body the server cannot parse (e.g. `Transfer-Encoding: chunked` over an unframed body):
    // the real server's BlobStream.post catches the read error and answers 500.
    this.#server.on('clientError', (_err, socket) => {
      const text = JSON.stringify({ msg: 'Error uploading result!' });
      socket.end(`HTTP/1.1 500 INTERNAL SERVER ERROR\r\ncontent-type: application/json\r\ncontent-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`);
    });
  }

  /** Start listening on 127.0.0.1, port 0 (the proxy and, behind it, the fake server). */
  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.#serverPort = (this.#server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** Stop and drop every connection (including stalled ones). */
  async close(): Promise<void> {
    for (const s of [this.server, this.#server]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  /** A stored blob decrypted: the public key the proxy encrypted it for, and its bytes. */
  blobPlaintext(uuid: string): { publicKey: string; bytes: Buffer } | undefined {
    const stored = this.blobs.get(uuid);
    return stored === undefined ? undefined : fakeDecrypt(stored);
  }

  /**
   * Create and register a container token (unsigned JWT) with these claims, under the claim name
   * of the fake's version: `client_type` (vantage6-server/vantage6/server/resource/token.py:335-351,
   * 4.14.0) or `vantage6_client_type` (vantage6-hq/vantage6/hq/resource/token.py:178-193, 5.0.0rc2).
   */
  issueToken(claims: FakeClaims): string {
    const kind = this.options.version === 'v5' ? { vantage6_client_type: 'container' } : { client_type: 'container' };
    const token = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: { ...kind, ...claims }, iat: 0 })}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
    this.#tokens.set(token, claims);
    return token;
  }

  /** Answer the next `times` requests whose path starts with `match` with `status`. */
  failNext(match: string, status: number, times = 1): void {
    this.#failures.push({ match, status, times });
  }

  /** Never answer the next `times` requests whose path starts with `match`. */
  stallNext(match: string, times = 1): void {
    this.#stalls.push({ match, times });
  }

  /** Answer the next request whose path starts with `match` with a body of `bytes` bytes. */
  oversizeNext(match: string, bytes: number, times = 1): void {
    this.#oversize.push({ match, bytes, times });
  }

  /** Complete a run with a JSON result (encoded as the proxy would hand it out: base64 of the JSON bytes). */
  completeRun(runId: number, result: unknown): void {
    this.completeRunRaw(runId, Buffer.from(JSON.stringify(result), 'utf8').toString('base64'));
  }

  /** Complete a run with a raw result field. */
  completeRunRaw(runId: number, base64: string | null): void {
    const run = this.runs.get(runId);
    if (run === undefined) throw new Error(`no run ${runId}`);
    run.status = 'completed';
    run.result = base64;
  }

  /** Complete a run with its result stored in the blob store (its `result` is then the blob's UUID). */
  completeRunBlob(runId: number, result: unknown, rawJson?: string): void {
    const uuid = randomUUID();
    const run = this.runs.get(runId);
    const creator = run === undefined ? undefined : this.tasks.get(run.taskId)?.creatorOrganizationId;
    this.blobs.set(uuid, fakeEncrypt(Buffer.from(rawJson ?? JSON.stringify(result), 'utf8'), fakePublicKeyOf(creator ?? 0)));
    this.completeRunRaw(runId, uuid);
    this.runs.get(runId)!.blobStorageUsed = true;
  }

  /** Mark a run as crashed. */
  crashRun(runId: number): void {
    const run = this.runs.get(runId);
    if (run === undefined) throw new Error(`no run ${runId}`);
    run.status = 'crashed';
  }

  /** The runs of a task. */
  runsOf(taskId: number): FakeRun[] {
    return (this.tasks.get(taskId)?.runIds ?? []).map((id) => this.runs.get(id)!);
  }

  /**
   * The task's status from its runs' as vantage6 derives it (vantage6-server/vantage6/server/model/task.py,
   * `Task.status`, 4.14.0): a failure first — the failed runs' status when they all failed the same
   * way (one crashed run: `crashed`), else `failed` — then `active`, `initializing`, `pending`,
   * else `completed`.
   */
  taskStatus(task: FakeTask): string {
    if (task.status !== undefined) return task.status;
    const runs = this.runsOf(task.id);
    const failed = new Set(runs.filter((r) => r.status === 'crashed').map((r) => r.status));
    if (failed.size > 0) return failed.size === 1 ? [...failed][0]! : 'failed';
    if (runs.some((r) => r.status === 'active')) return 'active';
    if (runs.some((r) => r.status === 'pending')) return 'pending';
    return 'completed';
  }

  #take<T extends { match: string; times: number }>(list: T[], path: string): T | undefined {
    const hit = list.find((f) => f.times > 0 && path.startsWith(f.match));
    if (hit !== undefined) hit.times -= 1;
    return hit;
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #page(res: ServerResponse, query: URLSearchParams, items: unknown[], path: string): void {
    const page = Math.max(1, Number(query.get('page') ?? '1') || 1);
    // `per_page` as pagination.py `_get_per_page` reads it (default DEFAULT_PAGE_SIZE, 10, in
    // vantage6-backend-common/vantage6/backend/common/globals.py; here the fake's pageSize).
    const askedPer = Number(query.get('per_page'));
    const per = Number.isInteger(askedPer) && askedPer >= 1 ? askedPer : this.pageSize;
    const data = items.slice((page - 1) * per, page * per);
    const last = Math.max(1, Math.ceil(items.length / per));
    const links: Record<string, string> = { first: `${path}?page=1`, self: `${path}?page=${page}`, last: `${path}?page=${last}` };
    if (page < last) links.next = `${path}?page=${page + 1}`;
    if (page > 1) links.previous = `${path}?page=${page - 1}`;
    this.#json(res, 200, { data, links });
  }

  async #readBytes(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of req) {
      total += (chunk as Buffer).length;
      if (total > MAX_FAKE_BODY_BYTES) throw new Error('fake proxy: body too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks, total);
  }

  async #readBody(req: IncomingMessage): Promise<unknown> {
    const bytes = await this.#readBytes(req);
    return bytes.length === 0 ? undefined : JSON.parse(bytes.toString('utf8'));
  }

  /** The body of a request, capped, as it streams in. */
  async *#capped(req: IncomingMessage): AsyncGenerator<Buffer> {
    let total = 0;
    for await (const chunk of req) {
      total += (chunk as Buffer).length;
      if (total > MAX_FAKE_BODY_BYTES) throw new Error('fake proxy: body too large');
      yield chunk as Buffer;
    }
  }

  /**
   * Forward `POST /blobstream` as vantage6's node proxy does (vantage6-node/vantage6/node/proxy_server.py,
   * `stream_handler_post`, 4.14.0 and release/5.0): copy `Authorization`, `Content-Type` and
   * `Content-Length` from the container's request, and send `requests.post(url, headers=...,
   * data=encrypt_stream(request.stream, key))`. requests (2.32+, models.py `prepare_body`) gives a
   * generator body `Transfer-Encoding: chunked`; its adapter frames the chunks only when no
   * `Content-Length` header is present (adapters.py `send`, urllib3 connection.py `request`):
   * with a copied `Content-Length` the server gets both headers and an unframed body that is
   * longer than the length says. Written here byte for byte as requests writes it, over a plain
   * socket. The proxy answers with the server's status and body.
   */
  async #forwardBlobUpload(req: IncomingMessage, res: ServerResponse, publicKey: string): Promise<void> {
    const head: string[] = [`POST /blobstream HTTP/1.1`, `Host: 127.0.0.1:${this.#serverPort}`, 'User-Agent: python-requests', 'Accept-Encoding: gzip, deflate', 'Accept: */*', 'Connection: close'];
    for (const name of ['Authorization', 'Content-Type', 'Content-Length']) {
      const value = req.headers[name.toLowerCase()];
      if (typeof value === 'string') head.push(`${name}: ${value}`);
    }
    head.push('Transfer-Encoding: chunked');
    const framed = req.headers['content-length'] === undefined;
    const socket = connect(this.#serverPort, '127.0.0.1');
    const answer = new Promise<Buffer>((resolve, reject) => {
      const got: Buffer[] = [];
      socket.on('data', (d: Buffer) => got.push(d));
      socket.on('end', () => resolve(Buffer.concat(got)));
      // The server may answer and close before the body is through (an EPIPE on our side).
      socket.on('error', (err) => (got.length > 0 ? resolve(Buffer.concat(got)) : reject(err)));
    });
    answer.catch(() => undefined);
    const write = (data: string | Buffer): Promise<void> =>
      new Promise((resolve) => {
        if (socket.destroyed) return resolve();
        socket.write(data, () => resolve());
      });
    await write(`${head.join('\r\n')}\r\n\r\n`);
    for await (const chunk of fakeEncryptStream(this.#capped(req), publicKey)) {
      await write(framed ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk);
    }
    if (framed) await write('0\r\n\r\n');
    let raw: Buffer;
    try {
      raw = await answer;
    } catch {
      // requests raises ConnectionError; the Flask route does not catch it: 500.
      return this.#json(res, 500, { msg: 'proxy: connection to the server failed' });
    }
    const split = raw.indexOf('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw.subarray(0, Math.max(0, split)).toString('latin1'))?.[1] ?? '502');
    const body = split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  }

  /** The fake server's `POST /blobstream` (vantage6-server/vantage6/server/resource/blobstream.py, `BlobStream.post`, 4.14.0). */
  async #serveBlobUpload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const names = req.rawHeaders.filter((_, i) => i % 2 === 0);
    this.blobUploadHeads.push(`${req.method} ${req.url}\n${names.map((n) => `${n}: ${req.headers[n.toLowerCase()]}`).join('\n')}`);
    const auth = req.headers.authorization ?? '';
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/blobstream') return this.#json(res, 404, { msg: 'not found' });
    if (!this.#tokens.has(auth.startsWith('Bearer ') ? auth.slice(7) : '')) return this.#json(res, 401, { msg: 'Unauthorized' });
    const stored = await this.#readBytes(req);
    const uuid = randomUUID();
    this.blobs.set(uuid, stored);
    return this.#json(res, 201, { uuid });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const claims = this.#tokens.get(token);
    const blobUpload = req.method === 'POST' && path === '/blobstream' && this.options.blobStore === true;
    const body = req.method === 'POST' && !blobUpload ? await this.#readBody(req) : undefined;
    this.requests.push({ method: req.method ?? 'GET', path, query: url.searchParams, authorized: claims !== undefined, body });

    if (this.#take(this.#stalls, path) !== undefined) return; // never answer
    const failure = this.#take(this.#failures, path);
    if (failure !== undefined) return this.#json(res, failure.status, { msg: 'injected failure' });
    const big = this.#take(this.#oversize, path);
    if (big !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`"${'x'.repeat(big.bytes)}"`);
      return;
    }
    if (claims === undefined) return this.#json(res, 401, { msg: 'Unauthorized' });

    let m: RegExpMatchArray | null;
    if (path === '/blobstream/status' && req.method === 'GET') {
      if (this.options.blobStore === undefined) return this.#json(res, 404, { msg: 'not found' });
      return this.#json(res, 200, { blob_store_enabled: this.options.blobStore });
    }
    if (this.options.blobStore === true && req.method === 'POST' && path === '/blobstream') {
      const key = req.headers['x-public-key'];
      if (typeof key !== 'string' || key === '') return this.#json(res, 400, { msg: 'Missing X-Public-Key header' });
      return this.#forwardBlobUpload(req, res, key);
    }
    if (this.options.blobStore === true && req.method === 'GET' && (m = path.match(/^\/blobstream\/([0-9a-f-]{36})$/)) !== null) {
      // The proxy streams the blob from the server and decrypts it (stream_handler, decrypt_stream).
      const blob = this.blobPlaintext(m[1]!);
      if (blob === undefined) return this.#json(res, 404, { msg: 'no such blob' });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(blob.bytes);
      return;
    }
    if (req.method === 'POST' && path === '/task') return this.#createTask(res, body, claims);
    if (req.method === 'GET' && (m = path.match(/^\/task\/(\d+)\/status$/)) !== null) {
      const task = this.tasks.get(Number(m[1]));
      if (task === undefined) return this.#json(res, 404, { msg: 'no such task' });
      return this.#json(res, 200, { status: this.taskStatus(task) });
    }
    if (req.method === 'GET' && path === '/result') {
      const taskId = Number(url.searchParams.get('task_id'));
      const items = this.runsOf(taskId).map((r) =>
        this.options.resultsIncludeOrganization === true
          ? { id: r.id, result: r.result, task: { id: r.taskId }, organization: { id: r.organizationId }, blob_storage_used: r.blobStorageUsed === true }
          : { id: r.id, result: r.result, task: { id: r.taskId }, blob_storage_used: r.blobStorageUsed === true },
      );
      return this.#page(res, url.searchParams, items, '/result');
    }
    if (req.method === 'GET' && path === '/run') {
      const taskId = Number(url.searchParams.get('task_id'));
      const items = this.runsOf(taskId).map((r) => ({ id: r.id, status: r.status, task: { id: r.taskId }, organization: { id: r.organizationId } }));
      return this.#page(res, url.searchParams, items, '/run');
    }
    if (req.method === 'GET' && path === '/organization') {
      const collab = Number(url.searchParams.get('collaboration_id'));
      const items = collab === this.collaborationId ? this.organizations : [];
      return this.#page(res, url.searchParams, items, '/organization');
    }
    if (req.method === 'GET' && (m = path.match(/^\/organization\/(\d+)$/)) !== null) {
      const org = this.organizations.find((o) => o.id === Number(m![1]));
      if (org === undefined) return this.#json(res, 404, { msg: 'no such organization' });
      return this.#json(res, 200, { ...org, public_key: this.options.blobStore === true ? fakePublicKeyOf(org.id) : '' });
    }
    if (req.method === 'GET' && path === '/vpn/algorithm/addresses') {
      if (this.vpnBodyOverride !== undefined) return this.#json(res, 200, this.vpnBodyOverride);
      const label = url.searchParams.get('label');
      const addresses = label === null ? this.vpnAddresses : this.vpnAddresses.filter((a) => a.label === label);
      return this.#json(res, 200, { addresses });
    }
    return this.#json(res, 404, { msg: 'not found' });
  }

  #createTask(res: ServerResponse, body: unknown, claims: FakeClaims): void {
    if (typeof body !== 'object' || body === null) return this.#json(res, 400, { msg: 'no body' });
    const b = body as Record<string, unknown>;
    const orgs = b.organizations;
    if (!Array.isArray(orgs) || orgs.length === 0) return this.#json(res, 400, { msg: 'Organizations missing from input' });
    if (claims.image !== undefined && b.image !== claims.image) return this.#json(res, 400, { msg: 'image mismatch' });
    // validate_name (vantage6-backend-common/vantage6/backend/common/resource/input_schema.py) and the
    // description's Length(max=MAX_LEN_STR_LONG) of TaskInputSchema, both versions.
    if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length === 0 || b.name.length > 128 || /^\p{N}+$/u.test(b.name))) {
      return this.#json(res, 400, { msg: 'Request body is incorrect', errors: { name: ['invalid name'] } });
    }
    if (typeof b.description === 'string' && b.description.length > 1024) return this.#json(res, 400, { msg: 'Request body is incorrect', errors: { description: ['Longer than maximum length 1024.'] } });
    const task: FakeTask = {
      id: this.#nextTask++,
      name: String(b.name),
      image: String(b.image),
      collaborationId: typeof b.collaboration_id === 'number' ? b.collaboration_id : undefined,
      description: typeof b.description === 'string' ? b.description : undefined,
      databases: b.databases,
      parentId: claims.task_id,
      body: b,
      creatorOrganizationId: claims.organization_id,
      runIds: [],
    };
    const v5 = this.options.version === 'v5';
    if (v5) {
      // The proxy encrypts each organization's `arguments` before HQ sees the body.
      for (const o of orgs) {
        if (typeof o === 'object' && o !== null && typeof (o as Record<string, unknown>).arguments !== 'string') {
          return this.#json(res, 500, { msg: 'proxy: cannot encrypt the arguments of an organization' });
        }
      }
      const bad = (msg: string): void => this.#json(res, 400, { msg });
      if (typeof b.image !== 'string' || b.image.length === 0) return bad('image: Missing data for required field.');
      if (typeof b.method !== 'string') return bad('method: Missing data for required field.');
      if (typeof b.session_id !== 'number' || !Number.isInteger(b.session_id) || b.session_id < 1) return bad('session_id: Missing data for required field.');
      if (b.action !== undefined && !V5_ACTIONS.includes(String(b.action))) return bad('action: Must be one of the algorithm step types.');
      if (b.databases !== undefined && b.databases !== null && (!Array.isArray(b.databases) || !b.databases.every((d) => Array.isArray(d)))) return bad('databases: Not a valid list of lists.');
      for (const o of orgs) {
        if (typeof o !== 'object' || o === null) return bad('organizations: Not a valid list of dicts.');
      }
    }
    const runs: FakeRun[] = [];
    for (const o of orgs as Record<string, unknown>[]) {
      let inputBase64 = String(v5 ? o.arguments : o.input);
      // The node of that organization downloads the blob and decrypts it with its own key.
      const blob = this.options.blobStore === true ? this.blobPlaintext(inputBase64) : undefined;
      if (blob !== undefined) {
        if (blob.publicKey !== fakePublicKeyOf(Number(o.id))) return this.#json(res, 400, { msg: 'blob not encrypted for this organization' });
        inputBase64 = blob.bytes.toString('base64');
      }
      const decoded = JSON.parse(Buffer.from(inputBase64, 'base64').toString('utf8')) as unknown;
      const run: FakeRun = {
        id: this.#nextRun++,
        taskId: task.id,
        organizationId: Number(o.id),
        // Always in the v4 shape, so hooks that play the organizations' containers serve both.
        input: v5 ? { method: b.method, args: [], kwargs: decoded } : decoded,
        inputBase64,
        status: 'active',
        result: null,
      };
      this.runs.set(run.id, run);
      task.runIds.push(run.id);
      runs.push(run);
    }
    this.tasks.set(task.id, task);
    // 201, as the server answers a created task (vantage6-server/vantage6/server/resource/task.py:876, 4.14.0).
    this.#json(res, 201, { id: task.id, name: task.name, image: task.image, status: 'active' });
    if (this.options.onTask !== undefined) {
      Promise.resolve()
        .then(() => this.options.onTask!(task, runs, this))
        .catch((err: unknown) => this.hookErrors.push(err));
    }
  }
}

/** Start a fake node proxy on 127.0.0.1, port 0. */
export async function startFakeNodeProxy(options: FakeNodeProxyOptions = {}): Promise<FakeNodeProxy> {
  return new FakeNodeProxy(options).listen();
}
