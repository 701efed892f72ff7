// Validates Kubernetes objects two ways, both from the kubernetes-models npm
// packages (generated from the Kubernetes OpenAPI and the CRDs' schemas):
//  1. the JSON schemas (ajv): types, required fields, enums, formats;
//  2. the TypeScript interfaces (tsc's excess-property check): every field name
//     must exist, so a typo such as `readinesProbe` fails, as kubeconform --strict would.
// LeaderWorkerSet and InferencePool have no package: crd_types.ts describes
// them, and their pod templates go through the core PodTemplateSpec schema.
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync, symlinkSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const npmDir = join(here, '../../third_party/npm');
const require = createRequire(join(npmDir, 'package.json'));

// apiVersion/kind -> [module, class]; module '' = crd_types.ts (types only).
const KINDS = {
  'v1/Service': ['kubernetes-models/v1/Service', 'Service'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'Secret'],
  'v1/PersistentVolumeClaim': ['kubernetes-models/v1/PersistentVolumeClaim', 'PersistentVolumeClaim'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'Deployment'],
  'batch/v1/Job': ['kubernetes-models/batch/v1/Job', 'Job'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'PodDisruptionBudget'],
  'autoscaling/v2/HorizontalPodAutoscaler':
    ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'HorizontalPodAutoscaler'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'NetworkPolicy'],
  'monitoring.coreos.com/v1/ServiceMonitor':
    ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor', 'ServiceMonitor'],
  'monitoring.coreos.com/v1/PrometheusRule':
    ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule', 'PrometheusRule'],
  'keda.sh/v1alpha1/ScaledObject': ['@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', 'ScaledObject'],
  'gateway.networking.k8s.io/v1/HTTPRoute':
    ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute', 'HTTPRoute'],
  'leaderworkerset.x-k8s.io/v1/LeaderWorkerSet': ['', 'LeaderWorkerSet'],
  'inference.networking.k8s.io/v1/InferencePool': ['', 'InferencePool'],
};

const kindKey = (doc) => `${doc.apiVersion}/${doc.kind}`;

// Runtime schema check of one document; returns error strings.
function schemaErrors(doc) {
  const entry = KINDS[kindKey(doc)];
  if (!entry) return [`unknown apiVersion/kind ${kindKey(doc)} (add it to tests/deploy/k8s_schema.mjs)`];
  const [module, cls] = entry;
  const check = (Model, value, what) => {
    try {
      new Model(value).validate();
      return [];
    } catch (e) {
      return [`${what}: ${e.message}`];
    }
  };
  if (module) return check(require(module)[cls], doc, 'schema');
  const { PodTemplateSpec } = require('kubernetes-models/v1/PodTemplateSpec');
  if (doc.kind === 'LeaderWorkerSet') {
    const t = doc.spec?.leaderWorkerTemplate ?? {};
    return [...(t.leaderTemplate ? check(PodTemplateSpec, t.leaderTemplate, 'leaderTemplate') : []),
            ...check(PodTemplateSpec, t.workerTemplate ?? {}, 'workerTemplate')];
  }
  return [];  // InferencePool: the TypeScript check below covers it
}

// One tsc program over all documents: `const d<i>: I<Kind> = <json>;`.
function typeErrors(items) {
  const ts = require('typescript');
  const dir = mkdtempSync(join(tmpdir(), 'pagoda-k8s-types-'));
  try {
    symlinkSync(join(npmDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
    copyFileSync(join(here, 'crd_types.ts'), join(dir, 'crd_types.ts'));
    const imports = new Map([['ILeaderWorkerSet', './crd_types'], ['IInferencePool', './crd_types']]);
    for (const { doc } of items) {
      const [module, cls] = KINDS[kindKey(doc)] ?? [];
      if (module) imports.set(`I${cls}`, module);
    }
    let text = [...imports].map(([name, module]) => `import type { ${name} } from "${module}";\n`).join('');
    const starts = [];  // [item index, first line of its declaration]
    items.forEach(({ doc }, i) => {
      const entry = KINDS[kindKey(doc)];
      if (!entry) return;
      starts.push([i, text.split('\n').length - 1]);
      text += `export const d${i}: I${entry[1]} = ${JSON.stringify(doc, null, 1)};\n`;
    });
    const file = join(dir, 'docs.ts');
    writeFileSync(file, text);
    const program = ts.createProgram([file], {
      noEmit: true, strict: true, skipLibCheck: true, target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, types: [],
    });
    const errors = new Map();
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      let index = -1;
      if (d.file && d.file.fileName === file && d.start !== undefined) {
        const line = d.file.getLineAndCharacterOfPosition(d.start).line;
        for (const [i, start] of starts) if (start <= line) index = i;
      }
      if (!errors.has(index)) errors.set(index, []);
      errors.get(index).push(`fields: ${message.slice(0, 400)}`);
    }
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// items: [{doc, where}] -> ["where: error", ...] (empty when all are valid).
export function validateObjects(items) {
  const out = [];
  items.forEach(({ doc, where }) => {
    if (!doc || typeof doc !== 'object') return out.push(`${where}: not a Kubernetes object`);
    for (const e of schemaErrors(doc)) out.push(`${where}: ${e}`);
  });
  for (const [i, list] of typeErrors(items)) {
    for (const e of list) out.push(`${i >= 0 ? items[i].where : 'tsc'}: ${e}`);
  }
  return out;
}
