// Every `pagoda serve` command line in the deployment files — the manifests,
// every Helm rendering and the Dockerfile's CMD — is run through
// `pagoda serve --check-config` (parse + validate, nothing started). A flag the
// binary does not know or a value it cannot parse fails the test. Production
// lines ask for --device cuda, valid in builds with the CUDA backend and
// refused (naming the flag) in builds without. The same line with
// --device=cpu must be valid too (multi-node lines included: the CPU backend
// runs multi-node groups over sockets).
// LWS variables are filled in as LeaderWorkerSet would (group of N, rank r).
// Usage: node serve_flags_test.mjs path/to/pagoda
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repo, loadManifests, helmCases, renderChart, serveContainers, flagMap, check, summary } from './deploy_test_util.mjs';

const pagoda = process.argv[2];
const run = (args) => {
  const r = spawnSync(pagoda, ['serve', ...args, '--check-config'], { encoding: 'utf8' });
  return { code: r.status, text: `${r.stdout}${r.stderr}`.trim() };
};
// `pagoda info` names the CUDA runtime only in builds with the CUDA backend.
const hasCuda = spawnSync(pagoda, ['info'], { encoding: 'utf8' }).stdout.includes('cuda runtime:');

// Expected outcome of one command line: [exit code, text that must appear].
function expectation(args) {
  const flags = flagMap(args);
  if ((flags.get('device') ?? 'cpu') === 'cuda' && !hasCuda) return [2, "--device 'cuda' is not available"];
  return [0, 'configuration ok'];
}

function checkLine(args) {
  const problems = [];
  for (const line of [args, args.map((a) => a.replace(/^--device=cuda$/, '--device=cpu'))]) {
    const [code, text] = expectation(line);
    const r = run(line);
    if (r.code !== code || !r.text.includes(text)) {
      problems.push(`pagoda serve ${line.join(' ')} --check-config: exit ${r.code} "${r.text}" (want ${code}, "${text}")`);
    }
  }
  return problems;
}

// LWS fills these in per pod; a group of N has ranks 0..N-1 and one leader address.
const lwsEnv = (nodes, rank) => ({ LWS_GROUP_SIZE: String(nodes), LWS_WORKER_INDEX: String(rank), LWS_LEADER_ADDRESS: 'pagoda-0.pagoda' });
const expand = (args, env) => args.map((a) => String(a).replace(/\$\((\w+)\)/g, (_, v) => env[v] ?? `$(${v})`));

const sources = [['deploy/kubernetes', loadManifests()]];
for (const c of helmCases()) sources.push([`helm(${c.name})`, renderChart(c)]);
for (const [name, items] of sources) {
  for (const { where, container, nodes, role } of serveContainers(items)) {
    const rank = role === 'worker' ? nodes - 1 : 0;
    check(`${where}: flags accepted`, () => checkLine(expand(container.args ?? [], lwsEnv(nodes, rank))));
  }
}

check('Dockerfile CMD: flags accepted', () => {
  const cmd = readFileSync(join(repo, 'Dockerfile'), 'utf8').match(/^CMD (\[.*\])$/m);
  return cmd ? checkLine(JSON.parse(cmd[1])) : ['no CMD ["..."] line'];
});

// Each [args, exit code, text] case: 0 and 2 must match exactly, any other
// code stands for CLI11's parse errors (anything but 0 or 2).
function checkCases(cases) {
  const problems = [];
  for (const [args, code, text] of cases) {
    const r = run(args);
    if ((code === 0 || code === 2 ? r.code !== code : r.code === 0 || r.code === 2) || !r.text.includes(text)) {
      problems.push(`${args.join(' ')}: exit ${r.code} "${r.text}" (want ${code === 0 || code === 2 ? code : 'a parse error'}, "${text}")`);
    }
  }
  return problems;
}

// Runs body(path) with a --config file path in a fresh directory, removed after.
function withConfigFile(body) {
  const dir = mkdtempSync(join(tmpdir(), 'pagoda-flags-'));
  try {
    body(join(dir, 'serve.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The new multi-node flags and their --config keys are validated honestly.
check('multi-node flags: parsed and validated', () => {
  const cases = [
    [['--nnodes=2', '--node-rank=1', '--leader-address=10.0.0.1', '--tp=2'], 0, 'configuration ok'],
    [['--nnodes=2', '--tp=2'], 2, '--leader-address is required'],
    [['--nnodes=2', '--leader-address=x', '--tp=3'], 2, '--tp must be a multiple of --nnodes'],
    [['--node-rank=1'], 2, '--node-rank must be in [0, --nnodes)'],
    [['--nnodes=0'], 2, '--nnodes must be in [1, 64]'],
    [['--leader-port=0'], 2, '--leader-port must be in [1, 65535]'],
    [['--nnodes=1', '--node-rank=0', '--leader-port=29500'], 0, 'configuration ok'],
    hasCuda ? [['--device=cuda'], 0, 'configuration ok'] : [['--device=cuda'], 2, "--device 'cuda' is not available in this build"],
    [['--device=tpu'], 2, '--device must be cpu, cuda or auto'],
    [['--nnode=2'], 109, 'nnode'],
    [['--nnodes=two'], 105, 'nnodes'],
  ];
  const problems = checkCases(cases);
  withConfigFile((file) => {
    writeFileSync(file, JSON.stringify({ nnodes: 2, 'node-rank': 1, leader_address: 'lead', leader_port: 29501, tp: 3 }));
    let r = run([`--config=${file}`]);
    if (r.code !== 2 || !r.text.includes('--tp must be a multiple of --nnodes')) problems.push(`--config keys: exit ${r.code} "${r.text}"`);
    r = run([`--config=${file}`, '--tp=4']);
    if (r.code !== 0) problems.push(`--config multi-node keys: exit ${r.code} "${r.text}"`);
    r = run([`--config=${file}`, '--nnodes=1', '--node-rank=0']);  // flags win over the file
    if (r.code !== 0) problems.push(`flags over --config: exit ${r.code} "${r.text}"`);
    writeFileSync(file, JSON.stringify({ leader_port: 'x' }));
    r = run([`--config=${file}`]);
    if (r.code !== 2 || !r.text.includes('"leader_port" must be an integer')) problems.push(`--config types: exit ${r.code} "${r.text}"`);
  });
  return problems;
});

// The CUDA graph and collective flags and their --config keys (checked in every build).
check('CUDA graph and collective flags: parsed and validated', () => {
  const cases = [
    [['--enforce-eager'], 0, 'configuration ok'],
    [['--cuda-graph-budget=0'], 0, 'configuration ok'],
    [['--cuda-graph-budget=-1'], 2, '--cuda-graph-budget must be in [0, 3600] seconds'],
    [['--cuda-graph-budget=soon'], 105, 'cuda-graph-budget'],
    [['--collective-timeout=0'], 0, 'configuration ok'],
    [['--collective-timeout=-5'], 2, '--collective-timeout must be in [0, 86400] seconds'],
  ];
  const problems = checkCases(cases);
  withConfigFile((file) => {
    writeFileSync(file, JSON.stringify({ enforce_eager: true, cuda_graph_budget: 5000 }));
    let r = run([`--config=${file}`]);
    if (r.code !== 2 || !r.text.includes('--cuda-graph-budget must be in [0, 3600] seconds')) problems.push(`--config cuda_graph_budget: exit ${r.code} "${r.text}"`);
    r = run([`--config=${file}`, '--cuda-graph-budget=10']);  // the flag wins
    if (r.code !== 0) problems.push(`--cuda-graph-budget over --config: exit ${r.code} "${r.text}"`);
    writeFileSync(file, JSON.stringify({ collective_timeout: 1e6 }));
    r = run([`--config=${file}`]);
    if (r.code !== 2 || !r.text.includes('--collective-timeout must be in [0, 86400] seconds')) problems.push(`--config collective_timeout: exit ${r.code} "${r.text}"`);
    writeFileSync(file, JSON.stringify({ enforce_eager: 'yes' }));
    r = run([`--config=${file}`]);
    if (r.code !== 2 || !r.text.includes('"enforce_eager" must be')) problems.push(`--config enforce_eager type: exit ${r.code} "${r.text}"`);
  });
  return problems;
});

check('--batch-invariant: a flag and a --config key', () => {
  const problems = checkCases([
    [['--batch-invariant'], 0, 'configuration ok'],
    [['--batch-invariant', '--tp=4'], 0, 'configuration ok'],  // the CPU backend sums ranks in one order
  ]);
  withConfigFile((file) => {
    writeFileSync(file, JSON.stringify({ batch_invariant: true }));
    let r = run([`--config=${file}`]);
    if (r.code !== 0) problems.push(`--config batch_invariant: exit ${r.code} "${r.text}"`);
    writeFileSync(file, JSON.stringify({ batch_invariant: 1 }));
    r = run([`--config=${file}`]);
    if (r.code !== 2 || !r.text.includes('"batch_invariant" must be')) problems.push(`--config batch_invariant type: exit ${r.code} "${r.text}"`);
  });
  return problems;
});

summary();
