/**
 * Static checks of the deployment manifests (deploy/swarm-stack.yml, deploy/k8s-headless.yaml),
 * read with a small YAML reader of our own (no YAML dependency), against what the base image and
 * the SDK actually need at run time:
 *
 * - the network: an attachable, encrypted overlay (Swarm); a headless Service publishing
 *   not-ready addresses on port 8888 (Kubernetes);
 * - one party per service/pod, each with its own identity and the shared roster, mounted where the
 *   environment says, peers listed on port 8888;
 * - the container contract of the image's entry point (`coupler run`): INPUT_FILE and OUTPUT_FILE
 *   (it exits 1 at once without them), the output somewhere the non-root user may write;
 * - every COUPLER_* variable set is one the SDK reads (a misspelt name is silently ignored).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asList, asMap, at, parseYaml, parseYamlDocuments, type YamlMap, type YamlValue } from './_mini-yaml';

const ROOT = join(__dirname, '..', '..');
const SWARM = join(ROOT, 'deploy', 'swarm-stack.yml');
const K8S = join(ROOT, 'deploy', 'k8s-headless.yaml');
const PORT = 8888;

/** All source text of the SDK, to check that a variable a manifest sets is read somewhere. */
function sdkSource(): string {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(join(ROOT, 'src'));
  return out.join('\n');
}

/** Variables of the vantage6 container contract `coupler run` reads. */
const CONTRACT_VARIABLES = ['INPUT_FILE', 'OUTPUT_FILE', 'TEMPORARY_FOLDER', 'ORGANIZATION_ID', 'TASK_ID', 'PKG_NAME', 'ALGORITHM_METHOD', 'TOKEN_FILE', 'HOST', 'PORT'];

function checkVariablesAreRead(env: Record<string, string>): void {
  const src = sdkSource();
  for (const name of Object.keys(env)) {
    if (!name.startsWith('COUPLER_') && !CONTRACT_VARIABLES.includes(name)) continue;
    expect({ name, readBySdk: new RegExp(`\\b${name}\\b`).test(src) }).toEqual({ name, readBySdk: true });
  }
}

/** Where `path` is mounted from, among `mounts` (longest prefix wins). */
function mountOf<T extends { target: string }>(path: string, mounts: readonly T[]): T | undefined {
  return mounts.filter((m) => path === m.target || path.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`)).sort((a, b) => b.target.length - a.target.length)[0];
}

function peerList(value: string): { host: string; port: number }[] {
  return value.split(',').map((p) => {
    const m = /^([A-Za-z0-9.-]+):(\d+)$/.exec(p.trim());
    if (!m) throw new Error(`COUPLER_PEERS entry "${p}" is not host:port`);
    return { host: m[1]!, port: Number(m[2]) };
  });
}

describe('the mini YAML reader (so the checks below cannot pass on a misread file)', () => {
  test('block and flow collections, anchors, merge keys, comments, quoting', () => {
    const v = parseYaml(`
base: &b
  a: 1
  list: [x, "y, z"]   # comment
other:
  <<: *b
  a: 2
  'q': 'it''s'
  hash: "a # not a comment"
seq:
- k: v
  n: null
- - inner
- { m: { n: [1, 2] } }
`);
    expect(v).toEqual({
      base: { a: 1, list: ['x', 'y, z'] },
      other: { a: 2, list: ['x', 'y, z'], q: "it's", hash: 'a # not a comment' },
      seq: [{ k: 'v', n: null }, ['inner'], { m: { n: [1, 2] } }],
    });
    expect(parseYamlDocuments('a: 1\n---\nb: 0444\n')).toEqual([{ a: 1 }, { b: '0444' }]);
  });

  test.each([
    ['a block scalar', 'a: |\n  text\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['an unknown alias', 'a: *nope\n'],
    ['bad indentation', 'a:\n    b: 1\n  c: 2\n'],
    ['a tab', 'a:\n\tb: 1\n'],
    ['a multi-line plain scalar', 'a: one\n  two\n'],
    ['an unterminated flow mapping', 'a: { b: 1\n'],
  ])('refuses %s', (_name, text) => {
    expect(() => parseYamlDocuments(text)).toThrow(/yaml line|flow collection|expected/);
  });
});

describe('deploy/swarm-stack.yml', () => {
  const stack = (): YamlMap => asMap(parseYaml(readFileSync(SWARM, 'utf8')), 'the stack');
  const services = (): [string, YamlMap][] => Object.entries(asMap(stack().services, 'services')).map(([k, v]) => [k, asMap(v, k)]);
  const envOf = (svc: YamlMap): Record<string, string> => {
    const env = svc.environment;
    if (Array.isArray(env)) return Object.fromEntries(env.map((e) => String(e).split(/=(.*)/s).slice(0, 2) as [string, string]));
    return Object.fromEntries(Object.entries(asMap(env, 'environment')).map(([k, v]) => [k, v === null ? '' : String(v)]));
  };

  test('every station is on one attachable, encrypted overlay network', () => {
    const s = stack();
    const names = new Set(services().flatMap(([, svc]) => asList(svc.networks, 'networks').map(String)));
    expect(names.size).toBe(1);
    const [name] = [...names];
    const net = asMap(at(s, 'networks', name!), `network ${name}`);
    expect(net.driver).toBe('overlay');
    expect(net.attachable).toBe(true);
    const opts = asMap(net.driver_opts, 'driver_opts');
    expect(Object.keys(opts)).toContain('encrypted');
    expect(opts.encrypted === '' || opts.encrypted === true || opts.encrypted === 'true').toBe(true);
  });

  test('one service per station: one replica, no restarts, its own identity secret; every secret and config is declared', () => {
    const s = stack();
    const svcs = services();
    expect(svcs.length).toBeGreaterThanOrEqual(3);
    const identitySources = new Set<string>();
    for (const [name, svc] of svcs) {
      expect({ name, replicas: at(svc, 'deploy', 'replicas') }).toEqual({ name, replicas: 1 });
      expect({ name, restart: at(svc, 'deploy', 'restart_policy', 'condition') }).toEqual({ name, restart: 'none' });
      const env = envOf(svc);
      const secrets = asList(svc.secrets, `${name}.secrets`).map((x) => asMap(x, 'secret'));
      // The identity file is this service's secret, at the path COUPLER_IDENTITY_FILE names.
      const identity = secrets.find((x) => `/run/secrets/${String(x.target ?? x.source)}` === env.COUPLER_IDENTITY_FILE);
      expect({ name, identityMounted: identity !== undefined }).toEqual({ name, identityMounted: true });
      identitySources.add(String(identity!.source));
      // The roster is a config mounted where COUPLER_ROSTER_FILE points.
      const configs = asList(svc.configs, `${name}.configs`).map((x) => asMap(x, 'config'));
      expect({ name, rosterMounted: configs.some((c) => c.target === env.COUPLER_ROSTER_FILE) }).toEqual({ name, rosterMounted: true });
      for (const x of secrets) expect(Object.keys(asMap(s.secrets, 'secrets'))).toContain(String(x.source));
      for (const c of configs) expect(Object.keys(asMap(s.configs, 'configs'))).toContain(String(c.source));
    }
    expect(identitySources.size).toBe(svcs.length);
  });

  test('ownership: each service runs as one non-root uid:gid and every secret and config is given to it (a root-owned 0400 secret is unreadable to uid 1000: the party exited with EACCES)', () => {
    for (const [name, svc] of services()) {
      const user = String(svc.user ?? '');
      expect({ name, user }).toEqual({ name, user: expect.stringMatching(/^\d+:\d+$/) });
      const [uid, gid] = user.split(':');
      expect(uid).not.toBe('0');
      const mounts = [...asList(svc.secrets, `${name}.secrets`), ...asList(svc.configs, `${name}.configs`)].map((x) => asMap(x, 'mount'));
      for (const m of mounts) {
        expect({ name, source: m.source, uid: String(m.uid), gid: String(m.gid) }).toEqual({ name, source: m.source, uid, gid });
      }
      const identity = asList(svc.secrets, `${name}.secrets`).map((x) => asMap(x, 'secret'))[0]!;
      // The key stays private to that user (compose reads 0400 as octal; the mini parser keeps the digits).
      expect(String(identity.mode)).toMatch(/^0?[0-7]00$/);
    }
  });

  test(`COUPLER_PEERS lists every station, on port ${PORT}, the same at every station`, () => {
    const svcs = services();
    const names = svcs.map(([n, svc]) => String(svc.hostname ?? n)).sort();
    for (const [name, svc] of svcs) {
      const peers = peerList(envOf(svc).COUPLER_PEERS ?? '');
      expect({ name, hosts: peers.map((p) => p.host).sort() }).toEqual({ name, hosts: names });
      for (const p of peers) expect(p.port).toBe(PORT);
      // Every host named is a service name (resolvable on the overlay).
      for (const p of peers) expect(svcs.map(([n]) => n)).toContain(p.host);
    }
  });

  test('the container contract: INPUT_FILE from a mounted config, OUTPUT_FILE somewhere the image user may write', () => {
    for (const [name, svc] of services()) {
      const env = envOf(svc);
      expect(svc.entrypoint ?? svc.command).toBeUndefined(); // the image's own `coupler run`
      expect({ name, INPUT_FILE: typeof env.INPUT_FILE, OUTPUT_FILE: typeof env.OUTPUT_FILE }).toEqual({ name, INPUT_FILE: 'string', OUTPUT_FILE: 'string' });
      const configs = asList(svc.configs, `${name}.configs`).map((x) => asMap(x, 'config'));
      expect({ name, inputMounted: configs.some((c) => c.target === env.INPUT_FILE) }).toEqual({ name, inputMounted: true });
      // The base image's user (node, uid 1000) owns /app; /tmp is writable by everyone.
      expect(env.OUTPUT_FILE).toMatch(/^\/(app|tmp)\/[^/]+$/);
    }
  });

  test('every COUPLER_* and contract variable it sets is one the SDK reads', () => {
    for (const [, svc] of services()) checkVariablesAreRead(envOf(svc));
  });
});

describe('deploy/k8s-headless.yaml', () => {
  const docs = (): YamlMap[] => parseYamlDocuments(readFileSync(K8S, 'utf8')).map((d) => asMap(d, 'document'));
  const kind = (k: string): YamlMap => {
    const found = docs().filter((d) => d.kind === k);
    expect({ kind: k, count: found.length }).toEqual({ kind: k, count: 1 });
    return found[0]!;
  };
  const container = (): YamlMap => asMap(at(kind('StatefulSet'), 'spec', 'template', 'spec', 'containers', 0), 'container');
  const envList = (): YamlMap[] => asList(container().env, 'env').map((e) => asMap(e, 'env entry'));
  const envValue = (name: string): string | undefined => {
    const e = envList().find((x) => x.name === name);
    return e?.value === undefined || e.value === null ? undefined : String(e.value);
  };

  test(`the Service is headless, publishes not-ready addresses, port ${PORT}, and selects the party pods`, () => {
    const svc = kind('Service');
    const spec = asMap(svc.spec, 'spec');
    expect(spec.clusterIP).toBe('None');
    // The manifest says peers are findable while they start: that needs publishNotReadyAddresses.
    if (/publishNotReadyAddresses|before readiness|while they start/.test(readFileSync(K8S, 'utf8'))) expect(spec.publishNotReadyAddresses).toBe(true);
    const ports = asList(spec.ports, 'ports').map((p) => asMap(p, 'port'));
    expect(ports.some((p) => p.port === PORT && (p.targetPort === undefined || p.targetPort === PORT || p.targetPort === 'coupler'))).toBe(true);
    const podLabels = asMap(at(kind('StatefulSet'), 'spec', 'template', 'metadata', 'labels'), 'pod labels');
    for (const [k, v] of Object.entries(asMap(spec.selector, 'selector'))) expect(podLabels[k]).toBe(v);
  });

  test('one pod per party: the StatefulSet names the Service, COUPLER_PEERS lists every pod by its stable DNS name on the port', () => {
    const sts = kind('StatefulSet');
    const svcName = String(at(kind('Service'), 'metadata', 'name'));
    expect(at(sts, 'spec', 'serviceName')).toBe(svcName);
    const replicas = Number(at(sts, 'spec', 'replicas'));
    expect(replicas).toBeGreaterThanOrEqual(3);
    const name = String(at(sts, 'metadata', 'name'));
    const peers = peerList(envValue('COUPLER_PEERS') ?? '');
    expect(peers.map((p) => p.host).sort()).toEqual(Array.from({ length: replicas }, (_, i) => `${name}-${i}.${svcName}`).sort());
    for (const p of peers) expect(p.port).toBe(PORT);
    expect(asList(container().ports, 'ports').some((p) => at(p, 'containerPort') === PORT)).toBe(true);
  });

  test('non-root as uid 1000 (the image user); identity per pod and the roster mounted where the environment says', () => {
    const podSpec = asMap(at(kind('StatefulSet'), 'spec', 'template', 'spec'), 'pod spec');
    expect(at(podSpec, 'securityContext', 'runAsNonRoot')).toBe(true);
    expect(at(podSpec, 'securityContext', 'runAsUser')).toBe(1000);
    const mounts = asList(container().volumeMounts, 'volumeMounts').map((m) => ({ name: String(at(m, 'name')), target: String(at(m, 'mountPath')) }));
    const volumes = asList(podSpec.volumes, 'volumes').map((v) => asMap(v, 'volume'));
    const identity = envValue('COUPLER_IDENTITY_FILE')!;
    // $(POD_NAME) is expanded only if POD_NAME is defined earlier in the list.
    const names = envList().map((e) => String(e.name));
    for (const ref of identity.matchAll(/\$\(([A-Z_]+)\)/g)) expect(names.indexOf(ref[1]!)).toBeGreaterThanOrEqual(0);
    for (const ref of identity.matchAll(/\$\(([A-Z_]+)\)/g)) expect(names.indexOf(ref[1]!)).toBeLessThan(names.indexOf('COUPLER_IDENTITY_FILE'));
    const idMount = mountOf(identity, mounts);
    expect(volumes.find((v) => v.name === idMount?.name)?.secret).toBeDefined();
    const rosterMount = mountOf(envValue('COUPLER_ROSTER_FILE')!, mounts);
    expect(volumes.find((v) => v.name === rosterMount?.name)).toBeDefined();
  });

  test('the container contract: INPUT_FILE on a mounted volume, OUTPUT_FILE on a writable one (the root filesystem is read-only)', () => {
    const podSpec = asMap(at(kind('StatefulSet'), 'spec', 'template', 'spec'), 'pod spec');
    const c = container();
    expect(c.command ?? c.args).toBeUndefined(); // the image's own `coupler run`
    const input = envValue('INPUT_FILE');
    const output = envValue('OUTPUT_FILE');
    expect({ INPUT_FILE: typeof input, OUTPUT_FILE: typeof output }).toEqual({ INPUT_FILE: 'string', OUTPUT_FILE: 'string' });
    const mounts = asList(c.volumeMounts, 'volumeMounts').map((m) => ({ name: String(at(m, 'name')), target: String(at(m, 'mountPath')), readOnly: at(m, 'readOnly') === true }));
    const volumes = asList(podSpec.volumes, 'volumes').map((v) => asMap(v, 'volume'));
    expect(mountOf(input!, mounts)).toBeDefined();
    const outMount = mountOf(output!, mounts);
    if (at(c, 'securityContext', 'readOnlyRootFilesystem') === true) {
      expect(outMount).toBeDefined();
      expect(outMount!.readOnly).toBe(false);
      expect(volumes.find((v) => v.name === outMount!.name)?.emptyDir).toBeDefined();
    }
  });

  test('the NetworkPolicy lets the parties reach each other on the port', () => {
    const np = kind('NetworkPolicy');
    const podLabels = asMap(at(kind('StatefulSet'), 'spec', 'template', 'metadata', 'labels'), 'labels');
    for (const [k, v] of Object.entries(asMap(at(np, 'spec', 'podSelector', 'matchLabels'), 'podSelector'))) expect(podLabels[k]).toBe(v);
    const rules = asList(at(np, 'spec', 'ingress'), 'ingress');
    const ok = rules.some((rule) => {
      const fromPeers = asList(at(rule, 'from'), 'from').some((f) => Object.entries(asMap(at(f, 'podSelector', 'matchLabels'), 'from')).every(([k, v]) => podLabels[k] === v));
      const onPort = asList(at(rule, 'ports'), 'ports').some((p) => at(p, 'port') === PORT && (at(p, 'protocol') ?? 'TCP') === 'TCP');
      return fromPeers && onPort;
    });
    expect(ok).toBe(true);
  });

  test('every COUPLER_* and contract variable it sets is one the SDK reads', () => {
    checkVariablesAreRead(Object.fromEntries(envList().map((e) => [String(e.name), String(e.value ?? '')])));
  });

  test('no document kind this check does not know about slipped in unchecked', () => {
    expect(docs().map((d) => d.kind as YamlValue).sort()).toEqual(['NetworkPolicy', 'Service', 'StatefulSet']);
  });
});

describe('vantage6 5.x manifests (against charts/node/templates/job-network-policy.yml, 5.0)', () => {
  const ROOT_DIR = join(__dirname, '..', '..');
  /**
   * Fields of the Kubernetes objects a whitelist item can be (k8s.io/api networking/v1 types.go:
   * NetworkPolicyPeer, IPBlock; k8s.io/apimachinery meta/v1 types.go: LabelSelector). An ipBlock
   * peer has no other field ("If this field is set then neither of the other fields can be").
   */
  const PEER_FIELDS = ['ipBlock', 'namespaceSelector', 'podSelector'];
  const IP_BLOCK_FIELDS = ['cidr', 'except'];
  const LABEL_SELECTOR_FIELDS = ['matchLabels', 'matchExpressions'];
  const checkPeer = (item: YamlValue, where: string): string[] => {
    const errors: string[] = [];
    const peer = asMap(item, where);
    const keys = Object.keys(peer);
    for (const k of keys) if (!PEER_FIELDS.includes(k)) errors.push(`${where}: unknown field "${k}" in V1NetworkPolicyPeer`);
    if (keys.length === 0) errors.push(`${where}: an empty peer`);
    if (peer.ipBlock !== undefined) {
      if (keys.filter((k) => PEER_FIELDS.includes(k)).length > 1) errors.push(`${where}: ipBlock with other fields`);
      const block = asMap(peer.ipBlock, `${where}.ipBlock`);
      for (const k of Object.keys(block)) if (!IP_BLOCK_FIELDS.includes(k)) errors.push(`${where}.ipBlock: unknown field "${k}"`);
      if (typeof block.cidr !== 'string') errors.push(`${where}.ipBlock: no cidr`);
    }
    for (const sel of ['namespaceSelector', 'podSelector']) {
      if (peer[sel] === undefined) continue;
      for (const k of Object.keys(asMap(peer[sel]!, `${where}.${sel}`))) if (!LABEL_SELECTOR_FIELDS.includes(k)) errors.push(`${where}.${sel}: unknown field "${k}"`);
    }
    return errors;
  };

  test('node values: the chart pastes node.whitelist.federated_compute.egress under `egress: - to:`, so every item must be a NetworkPolicyPeer (no `ports:`): the relay address and the cluster DNS pods, no ingress', () => {
    const values = asMap(parseYaml(readFileSync(join(ROOT_DIR, 'deploy', 'vantage6-v5-node-values.yaml'), 'utf8')), 'values');
    const whitelist = asMap(at(values, 'node', 'whitelist'), 'whitelist');
    expect(Object.keys(whitelist)).toEqual(['federated_compute']); // the step coupler runs as
    expect(Object.keys(asMap(whitelist.federated_compute, 'step'))).toEqual(['egress']);
    const items = asList(at(whitelist, 'federated_compute', 'egress'), 'egress');
    // The rule the chart renders (charts/node/templates/job-network-policy.yml, release/5.0,
    // the federated_compute policy): one egress rule whose `to` is this list, no `ports`.
    const rendered = { egress: [{ to: items }] };
    expect(rendered.egress.flatMap((rule) => rule.to.flatMap((item, i) => checkPeer(item, `egress[0].to[${i}]`)))).toEqual([]);
    expect(items).toHaveLength(2);
    expect(String(at(items[0], 'ipBlock', 'cidr'))).toMatch(/\/32$/);
    expect(at(items[1], 'namespaceSelector', 'matchLabels', 'kubernetes.io/metadata.name')).toBe('kube-system');
    expect(at(items[1], 'podSelector', 'matchLabels', 'k8s-app')).toBe('kube-dns');
  });

  test('the peer check refuses what the API server refuses (the values file before this fix)', () => {
    expect(checkPeer(parseYaml('ipBlock:\n  cidr: 203.0.113.10/32\nports:\n  - protocol: TCP\n    port: 8889\n'), 'to[0]')).toEqual(['to[0]: unknown field "ports" in V1NetworkPolicyPeer']);
    expect(checkPeer(parseYaml('ipBlock:\n  cidr: 10.0.0.0/8\npodSelector:\n  matchLabels:\n    a: b\n'), 'to[0]')).toEqual(['to[0]: ipBlock with other fields']);
    expect(checkPeer(parseYaml('podSelector:\n  matchLabel:\n    a: b\n'), 'to[0]')).toEqual(['to[0].podSelector: unknown field "matchLabel"']);
  });

  test('deploy/README.md says the chart knob cannot restrict ports and points to the standalone policy that can', () => {
    const readme = readFileSync(join(ROOT_DIR, 'deploy', 'README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(readme).toContain('cannot restrict ports');
    expect(readme).toContain('relay-v6-networkpolicy.yaml');
  });

  test('same-cluster mesh policy: role=federated_compute pods to each other on 8888 only (+ DNS)', () => {
    const np = asMap(parseYaml(readFileSync(join(ROOT_DIR, 'deploy', 'vantage6-v5-task-mesh.yaml'), 'utf8')), 'policy');
    expect(at(np, 'kind')).toBe('NetworkPolicy');
    expect(at(np, 'spec', 'podSelector', 'matchLabels', 'role')).toBe('federated_compute');
    const ingress = asList(at(np, 'spec', 'ingress'), 'ingress');
    expect(ingress).toHaveLength(1);
    expect(at(ingress[0], 'from', 0, 'podSelector', 'matchLabels', 'role')).toBe('federated_compute');
    expect(at(ingress[0], 'ports', 0, 'port')).toBe(8888);
    const egress = asList(at(np, 'spec', 'egress'), 'egress');
    expect(at(egress[0], 'to', 0, 'podSelector', 'matchLabels', 'role')).toBe('federated_compute');
    expect(at(egress[0], 'ports', 0, 'port')).toBe(8888);
    expect(at(egress[1], 'to', 0, 'namespaceSelector', 'matchLabels', 'kubernetes.io/metadata.name')).toBe('kube-system');
  });
});
