/**
 * deploy/kubernetes/: every manifest validates against the Kubernetes and Prometheus Operator
 * schemas (kubernetes-models, @kubernetes-models/prometheus-operator: JSON schemas compiled into
 * validators, offline), a manifest with a wrong field type is rejected, the objects fit together
 * (labels, ports, names, paths, the namespace), the example exporter.yml is a valid configuration
 * whose secrets come from the Secret's files, prometheusrule.yaml holds the groups of alerts/*.yml
 * (test/integration/prometheusrule-generator.test.ts runs the generator itself), and every
 * runbook_url is the absolute URL made from the one runbook base URL in package.json.
 *
 * The schemas check types, required fields and enums; like the Kubernetes OpenAPI schemas they do
 * not reject unknown (misspelt) field names, so the security-relevant fields are also asserted at
 * their exact paths below.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Probe, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseConfig } from '../../src/config/load';
import { ROOT } from '../helpers/process';

const DIR = join(ROOT, 'deploy', 'kubernetes');
const CONFIG_PATH = '/etc/backup-exporter/exporter.yml';

type Manifest = Record<string, any>;
interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** The schema (model class) for each apiVersion/kind used here. */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as ModelClass,
  'monitoring.coreos.com/v1/Probe': Probe as unknown as ModelClass,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule as unknown as ModelClass,
};

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(structuredClone(manifest) as never).validate();
}

const files = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const manifests: Array<{ file: string; manifest: Manifest }> = files
  .filter((f) => f !== 'kustomization.yaml')
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      return { file, manifest: doc.toJS() as Manifest };
    }),
  );
const one = (kind: string): Manifest => {
  const found = manifests.filter((m) => m.manifest.kind === kind);
  expect(found).toHaveLength(1);
  return found[0].manifest;
};
const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Manifest;
const deployment = one('Deployment');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
const service = one('Service');
const configMap = one('ConfigMap');
const secret = one('Secret');
const exporterYml = configMap.data['exporter.yml'] as string;
const exporterConfig = parse(exporterYml) as { targets: Array<{ name: string; opsmanager?: Record<string, string> }> };

describe('schemas', () => {
  test.each(manifests.map(({ file, manifest }) => [`${file}: ${manifest.kind} ${manifest.metadata?.name}`, manifest]))('%s is valid', (_name, manifest) => {
    expect(() => validate(manifest as Manifest)).not.toThrow();
  });

  test('every manifest has a schema here, and there is one of each kind the deployment needs', () => {
    expect(manifests.map((m) => m.manifest.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Probe', 'PrometheusRule', 'Secret', 'Service', 'ServiceMonitor']);
  });

  // The validation can fail: a wrong type anywhere, taken from the real manifests, is rejected.
  const wrong: Array<[string, Manifest, (m: Manifest) => void, RegExp]> = [
    ['Deployment replicas as a string', deployment, (m) => (m.spec.replicas = 'two'), /replicas must be integer/],
    ['Deployment runAsNonRoot as a string', deployment, (m) => (m.spec.template.spec.containers[0].securityContext.runAsNonRoot = 'yes'), /runAsNonRoot must be boolean/],
    ['Deployment without containers', deployment, (m) => delete m.spec.template.spec.containers, /containers/],
    ['Service port as a string', service, (m) => (m.spec.ports[0].port = 'http'), /port must be integer/],
    ['ServiceMonitor endpoints as a mapping', one('ServiceMonitor'), (m) => (m.spec.endpoints = { port: 'http' }), /endpoints must be array/],
    ['Probe static targets as a string', one('Probe'), (m) => (m.spec.targets.staticConfig.static = 'ops-prod'), /static must be array/],
    ['Probe prober without url', one('Probe'), (m) => delete m.spec.prober.url, /url/],
    ['PrometheusRule rules as a string', one('PrometheusRule'), (m) => (m.spec.groups = [{ name: 'g', rules: 'none' }]), /rules must be array/],
    ['ConfigMap data value as a number', configMap, (m) => (m.data['exporter.yml'] = 1), /must be string/],
  ];
  test.each(wrong)('rejects %s', (_what, original, mutate, message) => {
    const manifest = structuredClone(original);
    mutate(manifest);
    expect(() => validate(manifest)).toThrow(message);
  });
});

describe('the Deployment', () => {
  test('runs non-root, read-only, without capabilities, with the RuntimeDefault seccomp profile', () => {
    expect(podSpec.securityContext.runAsNonRoot).toBe(true);
    expect(podSpec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(podSpec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(podSpec.containers).toHaveLength(1);
    expect(podSpec.automountServiceAccountToken).toBe(false);
  });

  test("runs as the user of the exporter's image (Dockerfile USER of its last stage, the default target)", () => {
    const runtime = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split(/^FROM\s/m).at(-1)!;
    const users = [...runtime.matchAll(/^USER\s+(\d+)(?::(\d+))?\s*$/gm)];
    const [, uid, gid] = users[users.length - 1];
    expect(podSpec.securityContext.runAsUser).toBe(Number(uid));
    if (gid) expect(podSpec.securityContext.runAsGroup).toBe(Number(gid));
  });

  test('liveness on /-/healthy, readiness on /-/ready, on the named port 9877', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 9877, protocol: 'TCP' }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/-/healthy', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/-/ready', port: 'http' });
    const server = readFileSync(join(ROOT, 'src', 'server.ts'), 'utf8');
    expect(server).toContain("'/-/healthy'");
    expect(server).toContain("'/-/ready'");
  });

  test('requests and limits CPU and memory', () => {
    for (const kind of ['requests', 'limits']) {
      expect(container.resources[kind]).toEqual({ cpu: expect.any(String), memory: expect.stringMatching(/^\d+Mi$/) });
    }
    expect(parseInt(container.resources.limits.memory, 10)).toBeGreaterThanOrEqual(parseInt(container.resources.requests.memory, 10));
  });

  test('mounts the ConfigMap where the image reads its configuration, and the Secret as files', () => {
    const volumes = new Map<string, Manifest>(podSpec.volumes.map((v: Manifest) => [v.name, v]));
    const mounts = new Map<string, Manifest>(container.volumeMounts.map((m: Manifest) => [m.name, m]));
    expect([...volumes.keys()].sort()).toEqual([...mounts.keys()].sort());
    for (const mount of mounts.values()) {
      expect(mount.readOnly).toBe(true);
      expect(mount.subPath).toBeUndefined(); // subPath mounts never see updates
    }
    const config = [...mounts.values()].find((m) => volumes.get(m.name)?.configMap);
    expect(config?.mountPath).toBe(posix.dirname(CONFIG_PATH));
    expect(volumes.get(config!.name)!.configMap.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toEqual([posix.basename(CONFIG_PATH)]);

    const secretMount = [...mounts.values()].find((m) => volumes.get(m.name)?.secret);
    expect(volumes.get(secretMount!.name)!.secret.secretName).toBe(secret.metadata.name);
    // The image's ENTRYPOINT passes --config.file; args must not point elsewhere.
    expect((container.args ?? []).some((a: string) => a.startsWith('--config.file'))).toBe(false);
  });

  test('labels select the pods; the image is the one kustomization.yaml sets', () => {
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(container.image.split(':')[0]).toBe(kustomization.images[0].name);
  });
});

describe('the example exporter.yml (ConfigMap) and the Secret', () => {
  const secretMountPath = container.volumeMounts.find((m: Manifest) => podSpec.volumes.find((v: Manifest) => v.name === m.name)?.secret).mountPath as string;

  test('secrets come only from files of the mounted Secret', () => {
    const fileKeys: string[] = [];
    for (const target of exporterConfig.targets) {
      for (const [key, value] of Object.entries(target.opsmanager ?? {})) {
        expect(key).not.toMatch(/^(private_key|password|client_secret|refresh_token|secret_key)$/);
        if (key.endsWith('_file')) {
          expect(posix.dirname(value)).toBe(secretMountPath);
          fileKeys.push(posix.basename(value));
        }
      }
    }
    expect(fileKeys.length).toBeGreaterThan(0);
    expect(fileKeys.sort()).toEqual(Object.keys(secret.stringData).sort());
  });

  test('is a valid configuration for the exporter, with the Secret files in place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-k8s-'));
    mkdirSync(join(dir, 'secrets'));
    for (const [key, value] of Object.entries(secret.stringData as Record<string, string>)) writeFileSync(join(dir, 'secrets', key), `${value}\n`);
    const text = exporterYml.split(`${secretMountPath}/`).join(`${join(dir, 'secrets')}/`);
    const config = parseConfig(text, { baseDir: dir, env: {}, source: 'configmap.yaml' });
    expect(config.targets.map((t) => t.name)).toEqual(exporterConfig.targets.map((t) => t.name));
  });

  test('the Secret example is not applied by kustomize (its placeholder would overwrite the real Secret)', () => {
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });
});

describe('Service, ServiceMonitor and Probe', () => {
  test('the Service selects the pods and exposes the container port', () => {
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 9877, targetPort: 'http', protocol: 'TCP' }]);
  });

  test('the ServiceMonitor scrapes the exporter\'s own metrics on the Service port, without collecting the targets again', () => {
    const monitor = one('ServiceMonitor');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toHaveLength(1);
    const [endpoint] = monitor.spec.endpoints;
    expect(endpoint).toMatchObject({ port: service.spec.ports[0].name, path: '/metrics', params: { targets: ['none'] } });
  });

  test('the Probe asks /probe of the Service for each target of exporter.yml', () => {
    const probe = one('Probe');
    const port = service.spec.ports[0].port;
    expect(probe.spec.prober).toEqual({ url: `${service.metadata.name}.${kustomization.namespace}.svc:${port}`, scheme: 'http', path: '/probe' });
    expect(probe.spec.targets.staticConfig.static).toEqual(exporterConfig.targets.map((t) => t.name));
    expect(probe.spec.module).toBeUndefined(); // the exporter takes only `target`
  });
});

describe('kustomization.yaml', () => {
  test('lists every manifest but the Secret example', () => {
    const expected = files.filter((f) => !['kustomization.yaml', 'secret.example.yaml'].includes(f));
    expect([...kustomization.resources].sort()).toEqual(expected);
  });

  test('sets the namespace the Probe and the Secret example name', () => {
    expect(kustomization.namespace).toMatch(/^[a-z0-9-]+$/);
    expect(secret.metadata.namespace).toBe(kustomization.namespace);
  });

  test('deploys the image of this version (package.json)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(kustomization.images).toHaveLength(1);
    expect(String(kustomization.images[0].newTag)).toBe(pkg.version);
  });

  // kustomize itself is optional (kubectl ships it); where it is installed, build and validate.
  const kubectl = spawnSync('sh', ['-c', 'command -v kubectl']).status === 0;
  (kubectl ? test : test.skip)('`kubectl kustomize` builds it into valid objects in the namespace (runs only where kubectl is installed)', () => {
    const result = spawnSync('kubectl', ['kustomize', DIR], { encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const built = parseAllDocuments(result.stdout).map((d) => d.toJS() as Manifest);
    expect(built.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Probe', 'PrometheusRule', 'Service', 'ServiceMonitor']);
    for (const m of built) {
      expect(m.metadata.namespace).toBe(kustomization.namespace);
      expect(() => validate(m)).not.toThrow();
    }
  });
});

describe('prometheusrule.yaml, generated from alerts/*.yml', () => {
  test('holds every group of every alerts/*.yml, unchanged', () => {
    const alertsDir = join(ROOT, 'alerts');
    let groups: unknown[] = [];
    try {
      for (const f of readdirSync(alertsDir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
        groups = groups.concat((parse(readFileSync(join(alertsDir, f), 'utf8')) as { groups: unknown[] }).groups);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    expect(one('PrometheusRule').spec.groups).toEqual(groups);
  });
});

describe('runbook_url: absolute, from the one setting in package.json', () => {
  const base = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { config?: { runbook_base_url?: string } }).config?.runbook_base_url ?? '';
  type Rule = { alert?: string; annotations?: Record<string, string> };
  const alertsOf = (groups: Array<{ rules: Rule[] }>) => groups.flatMap((g) => g.rules).filter((r) => r.alert);
  const ruleFiles = readdirSync(join(ROOT, 'alerts'))
    .filter((n) => /\.ya?ml$/.test(n))
    .sort();
  const sources: Array<[string, Rule[]]> = [
    ...ruleFiles.map((f): [string, Rule[]] => [`alerts/${f}`, alertsOf((parse(readFileSync(join(ROOT, 'alerts', f), 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups)]),
    ['deploy/kubernetes/prometheusrule.yaml', alertsOf(one('PrometheusRule').spec.groups)],
  ];

  test('the base is an absolute http(s) URL without a fragment', () => {
    expect(base).toMatch(/^https?:\/\/[^\s#]+$/);
    expect(() => new URL(base)).not.toThrow();
  });

  test.each(sources)('%s: every alert links <base>#<alert name in lower case>', (_file, alerts) => {
    expect(alerts.length).toBeGreaterThan(0);
    for (const alert of alerts) {
      const url = alert.annotations?.runbook_url ?? '';
      expect({ alert: alert.alert, url }).toEqual({ alert: alert.alert, url: `${base}#${alert.alert!.toLowerCase()}` });
      expect(new URL(url).protocol).toMatch(/^https?:$/);
    }
  });
});
