/**
 * Static checks of the relay manifests against what `coupler relay` and the parties need: the
 * command, one port everywhere, a --public-url parties can dial, and a vantage6 5.x policy that
 * opens egress to the relay (and DNS) only, no ingress.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYaml, parseYamlDocuments } from '../image/_mini-yaml';

const DEPLOY = join(__dirname, '..', '..', 'deploy');
const read = (f: string): string => readFileSync(join(DEPLOY, f), 'utf8');
type Obj = Record<string, any>;

describe('deploy/relay-k8s.yaml', () => {
  const docs = parseYamlDocuments(read('relay-k8s.yaml')) as Obj[];
  const svc = docs.find((d) => d.kind === 'Service')!;
  const dep = docs.find((d) => d.kind === 'Deployment')!;
  const container = dep.spec.template.spec.containers[0];

  test('runs `coupler relay` with a roster on the Service port, one replica', () => {
    expect(container.command).toEqual(['coupler', 'relay']);
    const args = container.args as string[];
    expect(args).toContain('--port=8889');
    expect(args.some((a) => a.startsWith('--roster=/etc/coupler/roster/'))).toBe(true);
    expect(svc.spec.ports[0].targetPort).toBe(8889);
    expect(container.ports[0].containerPort).toBe(8889);
    expect(dep.spec.replicas).toBe(1);
    expect(svc.spec.selector).toEqual(dep.spec.template.metadata.labels);
  });

  test('liveness and readiness probe GET /healthz on the relay port; Prometheus scrapes /metrics there', () => {
    for (const probe of [container.readinessProbe, container.livenessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz', port: 8889 });
    const ann = dep.spec.template.metadata.annotations as Obj;
    expect([ann['prometheus.io/port'], ann['prometheus.io/path']]).toEqual(['8889', '/metrics']);
  });

  test('the --public-url is the Service DNS name parties dial', () => {
    const url = (container.args as string[]).find((a) => a.startsWith('--public-url='))!.slice('--public-url='.length);
    expect(url).toBe(`ws://${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:${svc.spec.ports[0].port}`);
  });
});

describe('deploy/relay-v6-networkpolicy.yaml', () => {
  const pol = parseYaml(read('relay-v6-networkpolicy.yaml')) as Obj;
  const relay = (parseYamlDocuments(read('relay-k8s.yaml')) as Obj[]).find((d) => d.kind === 'Deployment')!;

  test('egress only: to the relay pods on the relay port, and DNS; no ingress rule', () => {
    expect(pol.kind).toBe('NetworkPolicy');
    expect(pol.spec.policyTypes).toEqual(['Egress']);
    expect(pol.spec.ingress).toBeUndefined();
    const [toRelay, dns] = pol.spec.egress as Obj[];
    expect(pol.spec.egress).toHaveLength(2);
    expect(toRelay!.to[0].podSelector.matchLabels).toEqual(relay.spec.template.metadata.labels);
    expect(toRelay!.to[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe(relay.metadata.namespace);
    expect(toRelay!.ports).toEqual([{ port: 8889, protocol: 'TCP' }]);
    expect((dns!.ports as Obj[]).every((p) => p.port === 53)).toBe(true);
  });
});

describe('deploy/relay-swarm.yml', () => {
  test('runs `coupler relay` on 8889 with the roster config and a public URL', () => {
    const doc = parseYaml(read('relay-swarm.yml')) as Obj;
    const s = doc.services.relay as Obj;
    expect(s.entrypoint).toEqual(['coupler', 'relay']);
    const cmd = s.command as string[];
    expect(cmd).toContain('--port=8889');
    expect(cmd).toContain(`--roster=${(s.configs as Obj[])[0]!.target as string}`);
    expect(cmd.some((c) => c.startsWith('--public-url='))).toBe(true);
    expect((s.ports as Obj[])[0]!.target).toBe(8889);
  });

  test('its healthcheck fetches /healthz on the relay port', () => {
    const s = (parseYaml(read('relay-swarm.yml')) as Obj).services.relay as Obj;
    expect(s.healthcheck.test.join(' ')).toContain("fetch('http://127.0.0.1:8889/healthz')");
  });
});

