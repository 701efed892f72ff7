// Validates every manifest under deploy/kubernetes and every rendering of the
// Helm chart (defaults + tests/deploy/helm-values/*.yaml) against the
// Kubernetes and CRD schemas (k8s_schema.mjs), then checks what a schema
// cannot: probes, shutdown budget vs --shutdown-timeout, --tp vs GPUs,
// /dev/shm, ports, Services and selectors that meet, metric names that exist.
// Usage: node manifests_test.mjs
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { validateObjects } from './k8s_schema.mjs';
import {
  repo, loadManifests, manifestFiles, parseYaml, helm, helmCases, renderChart, chartDir, serveContainers,
  flagMap, labelsMatch, check, summary,
} from './deploy_test_util.mjs';

const DEFAULT_PORTS = { grpc: 50051, http: 8000, metrics: 9090 };

// What a schema cannot see, for one set of objects (one directory or one render).
function policyProblems(items) {
  const problems = [];
  const containers = serveContainers(items);
  if (containers.length === 0) problems.push('no `pagoda serve` container found');
  for (const { where, template, pod, container, nodes, role } of containers) {
    const p = (msg) => problems.push(`${where}: ${msg}`);
    const flags = flagMap(container.args ?? []);
    const serves = role !== 'worker';
    if (flags.get('host') !== '0.0.0.0') p('--host=0.0.0.0 is needed in a pod (the default binds 127.0.0.1)');
    // --tp = every GPU of the group.
    const gpus = Number(container.resources?.limits?.['nvidia.com/gpu'] ?? 0);
    const tp = Number(flags.get('tp') ?? 1);
    if ((flags.get('device') ?? 'cpu') === 'cuda') {
      if (gpus < 1) p('--device=cuda without an nvidia.com/gpu limit');
      if (tp !== gpus * nodes) p(`--tp=${tp} but the group has ${gpus} GPUs x ${nodes} node(s)`);
    } else if (gpus > 0) p('GPUs requested for --device cpu');
    if (nodes > 1) {
      for (const [flag, env] of [['nnodes', 'LWS_GROUP_SIZE'], ['node-rank', 'LWS_WORKER_INDEX'], ['leader-address', 'LWS_LEADER_ADDRESS']]) {
        if (flags.get(flag) !== `$(${env})`) p(`--${flag} must come from $(${env})`);
      }
    }
    // NCCL wants a memory-backed /dev/shm.
    const shm = (container.volumeMounts ?? []).find((m) => m.mountPath === '/dev/shm');
    const shmVolume = shm && (pod.volumes ?? []).find((v) => v.name === shm.name);
    if (shmVolume?.emptyDir?.medium !== 'Memory') p('/dev/shm must be an emptyDir with medium Memory');
    // Every file flag lives under a mounted volume; keys and certificates come from Secrets.
    for (const flag of ['model', 'api-key-file', 'tls-cert', 'tls-key']) {
      const path = flags.get(flag);
      if (typeof path !== 'string') continue;
      const mount = (container.volumeMounts ?? []).find((m) => path.startsWith(m.mountPath + '/'));
      const volume = mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
      if (!volume) p(`--${flag}=${path} is not under a mounted volume`);
      else if (flag !== 'model' && !volume.secret) p(`--${flag} must come from a Secret`);
    }
    // Container ports match the listeners.
    const ports = Object.fromEntries((container.ports ?? []).map((x) => [x.name, x.containerPort]));
    for (const name of serves ? ['grpc', 'http', 'metrics'] : ['metrics']) {
      const want = Number(flags.get(`${name}-port`) ?? DEFAULT_PORTS[name]);
      if (ports[name] !== want) p(`container port "${name}" is ${ports[name]}, the server listens on ${want}`);
    }
    // Probes: start-up budget for weight loading, readiness on /health (HTTPS
    // with TLS), liveness that survives a drain.
    if (serves) {
      const scheme = flags.has('tls-cert') ? 'HTTPS' : 'HTTP';
      const s = container.startupProbe;
      const budget = (s?.periodSeconds ?? 10) * (s?.failureThreshold ?? 3);
      if (!s) p('no startupProbe');
      else if (budget < 600) p(`startupProbe allows ${budget} s; loading a large model needs >= 600 s`);
      for (const [name, probe] of [['startupProbe', s], ['readinessProbe', container.readinessProbe]]) {
        const g = probe?.httpGet;
        if (!g || g.path !== '/health' || g.port !== 'http' || (g.scheme ?? 'HTTP') !== scheme) {
          p(`${name} must GET /health on port http over ${scheme}`);
        }
      }
    }
    const live = container.livenessProbe?.httpGet;
    if (!live || live.port !== 'metrics') p('livenessProbe must ask the metrics port (it stays up while draining)');
    // Shutdown: preStop sleep + drain + 5 s front-end flush + 1 s gRPC close fit in the grace period.
    const sleep = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    const drain = Number(flags.get('shutdown-timeout') ?? 30);
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    if (serves && sleep < 5) p('preStop should sleep >= 5 s so endpoints drop the pod before SIGTERM');
    if (grace < sleep + drain + 6) p(`terminationGracePeriodSeconds ${grace} < preStop ${sleep} + --shutdown-timeout ${drain} + 6`);
    if (pod.securityContext?.runAsNonRoot !== true) p('pod must set runAsNonRoot');
    if (!template.metadata?.labels) p('pod template has no labels');
  }
  // Services select serving pods that have the target ports; gRPC says so.
  const pods = containers.map((c) => c);
  for (const { doc, where } of items.filter((i) => i.doc.kind === 'Service')) {
    const matching = pods.filter((c) => labelsMatch(doc.spec.selector, c.template.metadata?.labels));
    if (matching.length === 0) problems.push(`${where}: selects no pagoda pod`);
    for (const port of doc.spec.ports) {
      if (port.name === 'grpc' && port.appProtocol !== 'grpc') problems.push(`${where}: port grpc needs appProtocol: grpc`);
      for (const c of matching) {
        if (!(c.container.ports ?? []).some((x) => x.name === port.targetPort)) {
          problems.push(`${where}: ${c.where} has no container port "${port.targetPort}"`);
        }
      }
    }
  }
  const byKind = (kind) => items.filter((i) => i.doc.kind === kind);
  for (const { doc, where } of byKind('ServiceMonitor')) {
    const ok = byKind('Service').some((s) => labelsMatch(doc.spec.selector.matchLabels, s.doc.metadata.labels) &&
      s.doc.spec.ports.some((x) => doc.spec.endpoints.every((e) => e.port === x.name)));
    if (!ok) problems.push(`${where}: selects no Service with its port`);
  }
  for (const { doc, where } of [...byKind('HorizontalPodAutoscaler'), ...byKind('ScaledObject')]) {
    const ref = doc.spec.scaleTargetRef;
    if (!items.some((i) => i.doc.kind === (ref.kind ?? 'Deployment') && i.doc.metadata.name === ref.name)) {
      problems.push(`${where}: scales ${ref.kind ?? 'Deployment'}/${ref.name}, which is not here`);
    }
  }
  for (const { doc, where } of byKind('ScaledObject')) {
    for (const t of doc.spec.triggers) {  // trigger metadata is a free-form map: check the keys KEDA reads
      const missing = ['serverAddress', 'query', 'threshold'].filter((k) => typeof t.metadata?.[k] !== 'string');
      if (t.type !== 'prometheus' || missing.length) problems.push(`${where}: prometheus trigger lacks ${missing}`);
    }
  }
  for (const { doc, where } of [...byKind('PodDisruptionBudget'), ...byKind('InferencePool')]) {
    if (!pods.some((c) => labelsMatch(doc.spec.selector.matchLabels, c.template.metadata?.labels))) {
      problems.push(`${where}: selects no pagoda pod`);
    }
  }
  return problems;
}

// Metric names used in queries, rules and HPAs must be ones server/metrics.cc exports.
function metricNameProblems(text, where) {
  const source = readFileSync(join(repo, 'server/metrics.cc'), 'utf8');
  const problems = [];
  for (const [name] of text.matchAll(/\b(?:pagoda_|vllm:)[a-z_]+/g)) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const stem = base.replace(/^pagoda_|^vllm:/, '');
    if (!source.includes(`"${base}"`) && !source.includes(`"${stem}"`)) problems.push(`${where}: unknown metric ${name}`);
  }
  return problems;
}

// --- plain manifests -------------------------------------------------------
const dirs = ['deploy/kubernetes', 'deploy/kubernetes/multinode'];
let plain = [];
check('manifests parse as YAML', () => { plain = loadManifests(); return plain.length ? [] : ['none found']; });
for (const dir of dirs) {
  check(`${dir}: serving pods, probes, shutdown, ports, selectors`, () => {
    const mine = plain.filter((i) => dirname(i.where.split('#')[0]) === dir ||
      (dir === 'deploy/kubernetes' && /^deploy\/kubernetes\/(routing|autoscaling)\//.test(i.where)));
    return policyProblems(mine);
  });
}
check('kustomization lists existing files and every top-level manifest', () => {
  const k = parseYaml(readFileSync(join(repo, 'deploy/kubernetes/kustomization.yaml'), 'utf8'), 'kustomization')[0].doc;
  const problems = k.resources.filter((r) => !existsSync(join(repo, 'deploy/kubernetes', r))).map((r) => `missing ${r}`);
  const top = manifestFiles().filter((f) => dirname(f) === join(repo, 'deploy/kubernetes'))
    .map((f) => f.slice(f.lastIndexOf('/') + 1)).filter((f) => f !== 'model-download-job.yaml');
  return problems.concat(top.filter((f) => !k.resources.includes(f)).map((f) => `not listed: ${f}`));
});
check('metric names in manifests exist in server/metrics.cc', () =>
  manifestFiles().flatMap((f) => metricNameProblems(readFileSync(f, 'utf8'), f)));

// --- Helm chart --------------------------------------------------------------
const renders = [];
for (const c of helmCases()) {
  check(`helm lint --strict (${c.name})`, () => {
    helm(['lint', '--strict', chartDir, ...(c.values ? ['-f', c.values] : [])]);
    return [];
  });
  check(`helm template (${c.name}): serving policy`, () => {
    const items = renderChart(c);
    renders.push(...items);
    return [...policyProblems(items),
      ...metricNameProblems(JSON.stringify(items.map((i) => i.doc)), `helm(${c.name})`)];
  });
}
// One schema pass (one tsc program) over the manifests and every rendering.
check('manifests and Helm renderings match the Kubernetes and CRD schemas', () => validateObjects([...plain, ...renders]));
check('helm: multinode renders a LeaderWorkerSet, a leader-only Service and no Deployment', () => {
  const items = renderChart(helmCases().find((c) => c.name === 'multinode-keda.yaml'));
  const kinds = items.map((i) => i.doc.kind);
  const api = items.find((i) => i.doc.kind === 'Service' && i.doc.spec.ports.some((p) => p.name === 'grpc'));
  const problems = [];
  if (!kinds.includes('LeaderWorkerSet') || kinds.includes('Deployment')) problems.push(`kinds: ${kinds}`);
  if (api?.doc.spec.selector['pagoda.dev/role'] !== 'leader') problems.push('the API Service must select the leader only');
  return problems;
});
check('helm: invalid values are refused', () => {
  const bad = [['--set', 'autoscaling.enabled=true', '--set', 'autoscaling.type=cpu'],
    ['--set', 'tls.enabled=true'], ['--set', 'auth.enabled=true']];
  return bad.filter((args) => {
    try { helm(['template', 'pagoda', chartDir, ...args]); return true; } catch { return false; }
  }).map((args) => `rendered despite ${args.join(' ')}`);
});

summary();
