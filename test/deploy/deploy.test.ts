import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { startPortico } from '../helpers/portico-process.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const deploy = join(root, 'deploy');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** The Kubernetes API models (their schemas come from the Kubernetes OpenAPI documents), by apiVersion/kind. */
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function manifests(): Manifest[] {
  const dir = join(deploy, 'kubernetes');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
        assert.deepEqual(doc.errors, [], file);
        return doc.toJS() as Manifest;
      }),
    );
}

function validate(manifest: Manifest): void {
  const Model = models[`${manifest.apiVersion}/${manifest.kind}`];
  assert.ok(Model, `no model for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

function byKind(all: Manifest[], kind: string): Manifest {
  const found = all.find((m) => m.kind === kind);
  assert.ok(found, `a ${kind}`);
  return found;
}

test('every Kubernetes manifest validates against the Kubernetes API schemas', () => {
  const all = manifests();
  assert.deepEqual(all.map((m) => m.kind).sort(), [
    'ConfigMap',
    'Deployment',
    'HorizontalPodAutoscaler',
    'PodDisruptionBudget',
    'Secret',
    'Service',
  ]);
  for (const manifest of all) validate(manifest);
});

test('the schema check is real: a wrongly typed field fails it', () => {
  const deployment = structuredClone(byKind(manifests(), 'Deployment')) as Manifest & {
    spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } };
  };
  const ports = deployment.spec.template.spec.containers[0]?.ports;
  assert.ok(ports?.[0]);
  ports[0].containerPort = 'eighty';
  assert.throws(() => validate(deployment), /containerPort must be integer/);
});

test('probes use the status listener, the config in the ConfigMap is valid Portico config, and the parts point at each other', () => {
  const all = manifests();
  const deployment = byKind(all, 'Deployment') as Manifest & {
    spec: {
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          containers: {
            ports: { name: string; containerPort: number }[];
            readinessProbe: { httpGet: { path: string; port: string } };
            livenessProbe: { httpGet: { path: string; port: string } };
            securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
          }[];
          securityContext: { runAsNonRoot: boolean };
          terminationGracePeriodSeconds: number;
        };
      };
    };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  assert.ok(container);
  const statusPort = container.ports.find((p) => p.name === container.readinessProbe.httpGet.port);
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.livenessProbe.httpGet.port, 'status');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);

  const configMap = byKind(all, 'ConfigMap') as Manifest & { data: Record<string, string> };
  const text = configMap.data['portico.yaml'];
  assert.ok(text !== undefined);
  const config = parseConfig(
    text,
    '/etc/portico/config/portico.yaml',
    { REDIS_URL: 'redis://redis:6379/0' },
    () => 'a-token-read-from-the-mounted-secret',
  );
  assert.equal(config.status?.listen, `0.0.0.0:${statusPort?.containerPort}`);
  assert.equal(config.store.kind, 'redis', 'more than one replica share state through Redis');
  assert.ok(
    pod.terminationGracePeriodSeconds > Number.parseInt(config.shutdownTimeout, 10),
    'the pod is not killed before the drain ends',
  );

  const labels = deployment.spec.template.metadata.labels;
  for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels))
    assert.equal(labels[key], value);
  const pdb = byKind(all, 'PodDisruptionBudget') as Manifest & {
    spec: { selector: { matchLabels: object } };
  };
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  const service = byKind(all, 'Service') as Manifest & { spec: { selector: object } };
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  const hpa = byKind(all, 'HorizontalPodAutoscaler') as Manifest & {
    spec: { scaleTargetRef: { name: string } };
  };
  assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
});

test('the container image config is valid, and the Containerfile is multi-stage, non-root, with a status healthcheck', () => {
  const config = parseConfig(
    readFileSync(join(deploy, 'container', 'portico.yaml'), 'utf8'),
    'portico.yaml',
    {},
  );
  assert.equal(config.status?.listen, '0.0.0.0:8082');
  const containerfile = readFileSync(join(root, 'Containerfile'), 'utf8');
  assert.match(containerfile, /^ARG BASE_IMAGE=/m);
  assert.equal(containerfile.match(/^FROM /gm)?.length, 2);
  assert.match(containerfile, /^USER 10001:10001$/m);
  assert.match(containerfile, /^HEALTHCHECK .*\n.*127\.0\.0\.1:8082\/readyz/m);
  assert.match(containerfile, /^VOLUME \["\/var\/lib\/portico"\]$/m);
  assert.match(containerfile, /npm prune --omit=dev/);
});

test('the systemd unit passes systemd-analyze verify and keeps its hardening', async (t) => {
  const unit = join(deploy, 'systemd', 'portico.service');
  const text = readFileSync(unit, 'utf8');
  for (const line of [
    'DynamicUser=yes',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'CapabilityBoundingSet=',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'SystemCallFilter=@system-service',
    'KillSignal=SIGTERM',
  ]) {
    assert.ok(text.split('\n').includes(line), `${line} in the unit`);
  }
  let result: { stdout: string; stderr: string };
  try {
    result = await run('systemd-analyze', ['verify', unit]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return t.skip('systemd-analyze is not installed here');
    throw new Error(`systemd-analyze verify failed: ${e.stderr ?? e.message}`, { cause: err });
  }
  // verify exits 0 even when it ignores a bad line, so any warning about the unit counts as a failure.
  assert.equal(`${result.stdout}${result.stderr}`.trim(), '');
});

test('every metric the Grafana dashboard queries exists on a running Portico', async (t) => {
  const dashboard = JSON.parse(readFileSync(join(deploy, 'grafana', 'portico.json'), 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
  assert.ok(exprs.length >= 10);
  const queried = new Set(
    exprs.flatMap((expr) => expr.match(/\b(?:portico|process|nodejs)_[a-z0-9_]+/g) ?? []),
  );
  for (const expr of exprs) {
    assert.doesNotMatch(expr, /\binstance=/, 'upstream metrics label instances upstream_instance');
  }

  const portico = await startPortico(
    ({ port, adminPort }) => `listen: 127.0.0.1:${port}\nadmin: { listen: 127.0.0.1:${adminPort} }\n`,
  );
  t.after(() => portico.stop());
  const text = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    types.set(match[1] as string, match[2] as string);
  for (const name of queried) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const exists = types.has(name) || (base !== name && types.get(base) === 'histogram');
    assert.ok(exists, `${name} is not exported by Portico`);
  }
});
