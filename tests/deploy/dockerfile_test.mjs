// Checks the top-level Dockerfile without a Docker engine:
//  - the runtime stage installs exactly the Debian packages that own the
//    shared libraries `ldd` lists for the built binary (none missing, none extra);
//  - CUDA libraries in the binary (a CUDA build) are covered by the cuda stage's list;
//  - the structure the deployment relies on: build stages run scripts/setup.sh,
//    targets cpu and cuda, a non-root USER, EXPOSE of the three default ports,
//    ENTRYPOINT `pagoda serve`, a HEALTHCHECK on /health;
//  - with --run-healthcheck: the HEALTHCHECK command itself, against a real
//    `pagoda serve` (a tiny model on 127.0.0.1), answers healthy.
// Usage: node dockerfile_test.mjs path/to/pagoda [--run-healthcheck]
import { readFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repo, check, summary } from './deploy_test_util.mjs';

const pagoda = process.argv[2];
const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const lines = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const argValue = (name) => {
  const m = dockerfile.match(new RegExp(`^ARG ${name}="([^"]*)"`, 'm'));
  return m ? m[1].split(/\s+/).filter(Boolean) : null;
};
const stages = Object.fromEntries([...dockerfile.matchAll(/^FROM (\S+) AS (\S+)/gm)].map((m) => [m[2], m[1]]));

// NVIDIA libraries -> the package of NVIDIA's Debian 12 repository that ships them.
const CUDA_LIBS = [[/^libcudart\.so/, 'cuda-cudart-'], [/^libcublas(Lt)?\.so/, 'libcublas-'], [/^libnccl\.so/, 'libnccl2']];
const DRIVER_LIBS = /^(libcuda|libnvidia-ml)\.so/;  // from the host driver, never installed in the image

function lddLibraries(binary) {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const m = line.match(/^\s*(\S+)(?: => (\S+))?/);
    if (!m || m[1].startsWith('linux-vdso')) continue;
    if (m[2] === 'not') throw new Error(`ldd: ${m[1]} not found`);
    libs.push({ soname: m[1].split('/').pop(), path: m[2] ?? m[1] });
  }
  return libs;
}

// Debian packages owning paths, in one dpkg call (each call reads the whole
// database); usrmerge means dpkg may record /lib or /usr/lib.
function owners(paths) {
  const candidates = new Map();  // candidate path -> original path
  for (const path of paths) {
    for (const p of [path, realpathSync(path)]) {
      candidates.set(p, path);
      candidates.set(p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`, path);
    }
  }
  const r = spawnSync('dpkg', ['-S', ...candidates.keys()], { encoding: 'utf8' });
  const found = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^([^:,\s]+)(?::\S+)?: (\S+)$/);
    if (m && candidates.has(m[2])) found.set(candidates.get(m[2]), m[1]);
  }
  return found;
}

check('build stages reuse scripts/setup.sh; targets cpu and cuda exist', () => {
  const problems = [];
  if (!/^RUN bash scripts\/setup\.sh$/m.test(dockerfile)) problems.push('no `RUN bash scripts/setup.sh`');
  for (const s of ['build-base', 'build-cpu', 'build-cuda', 'runtime-base', 'cpu', 'cuda']) {
    if (!stages[s]) problems.push(`no stage ${s}`);
  }
  if (stages['runtime-base'] !== 'debian:12-slim') problems.push('the runtime stage must be debian:12-slim');
  if (Object.keys(stages).pop() !== 'cuda') problems.push('the default (last) target must be cuda');
  for (const t of ['cpu', 'cuda']) {
    if (!new RegExp(`FROM runtime-base AS ${t}[\\s\\S]*?COPY --from=build-${t} /src/build/pagoda /usr/local/bin/pagoda`).test(dockerfile)) {
      problems.push(`target ${t} must copy only the binary from build-${t}`);
    }
  }
  return problems;
});

check('runtime: non-root user, ports, entrypoint, healthcheck', () => {
  const problems = [];
  const users = lines.filter((l) => l.startsWith('USER ')).map((l) => l.split(/\s+/)[1]);
  if (!users.length || /^(root|0)(:|$)/.test(users.at(-1))) problems.push('the image must end as a non-root USER');
  const expose = lines.find((l) => l.startsWith('EXPOSE'))?.split(/\s+/).slice(1).map(Number).sort() ?? [];
  if (expose.join() !== [50051, 8000, 9090].sort().join()) problems.push(`EXPOSE ${expose} (want 50051 8000 9090)`);
  if (!lines.includes('ENTRYPOINT ["/usr/local/bin/pagoda", "serve"]')) problems.push('ENTRYPOINT must be pagoda serve');
  if (!/^HEALTHCHECK .*CMD .*\/health/m.test(dockerfile)) problems.push('no HEALTHCHECK on /health');
  return problems;
});

check('runtime packages = the owners of the libraries ldd lists for the binary', () => {
  const listed = argValue('RUNTIME_PACKAGES');
  if (!listed) return ['no ARG RUNTIME_PACKAGES="..."'];
  const needed = new Set();
  const problems = [];
  const cuda = argValue('CUDA_RUNTIME_PACKAGES') ?? [];
  const libs = lddLibraries(pagoda);
  const owner = owners(libs.map((l) => l.path));
  for (const { soname, path } of libs) {
    if (DRIVER_LIBS.test(soname)) continue;
    const nvidia = CUDA_LIBS.find(([re]) => re.test(soname));
    if (nvidia) {
      if (!cuda.some((p) => p.startsWith(nvidia[1]))) problems.push(`${soname}: add ${nvidia[1]}* to CUDA_RUNTIME_PACKAGES`);
      continue;
    }
    const pkg = owner.get(path);
    if (!pkg) problems.push(`${path}: no Debian package owns it`);
    else needed.add(pkg);
  }
  for (const p of needed) if (!listed.includes(p)) problems.push(`missing from RUNTIME_PACKAGES: ${p}`);
  for (const p of listed) if (!needed.has(p)) problems.push(`not needed by the binary: ${p}`);
  if (problems.length) problems.push(`want: RUNTIME_PACKAGES="${[...needed].sort().join(' ')}"`);
  return problems;
});

// cuBLASLt is loaded with dlopen (cuda/cublaslt_api.h), so ldd does not list
// it: a binary that names it needs the cuBLAS package all the same.
check('libraries loaded at run time have their packages', () => {
  const cuda = argValue('CUDA_RUNTIME_PACKAGES') ?? [];
  const loadsCublas = readFileSync(pagoda).includes('libcublasLt.so.');
  return loadsCublas && !cuda.some((p) => p.startsWith('libcublas-')) ? ['libcublasLt: add libcublas-* to CUDA_RUNTIME_PACKAGES'] : [];
});

check('CUDA runtime packages are ones the library table knows', () => {
  const cuda = argValue('CUDA_RUNTIME_PACKAGES') ?? [];
  return cuda.filter((p) => !CUDA_LIBS.some(([, prefix]) => p.startsWith(prefix))).map((p) => `unknown: ${p}`);
});

if (process.argv.includes('--run-healthcheck')) {
  const m = dockerfile.match(/^HEALTHCHECK .*?CMD (.*)$/m);
  const dir = mkdtempSync(join(tmpdir(), 'pagoda-healthcheck-'));
  try {
    execFileSync(pagoda, ['make-model', '--preset', 'tiny', '--seed', '0', '--out', join(dir, 'tiny')], { stdio: 'ignore' });
    const server = spawn(pagoda, ['serve', '--model', join(dir, 'tiny'), '--grpc-port', '0', '--http-port', '0',
      '--metrics-port', '0', '--num-kv-blocks', '64', '--num-threads', '2', '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise((resolve, reject) => {
      let text = '';
      server.stdout.on('data', (c) => {
        text += c;
        const p = text.match(/^http listening on 127\.0\.0\.1:(\d+)$/m);
        if (p) resolve(p[1]);
      });
      server.on('exit', (code) => reject(new Error(`pagoda serve exited with ${code}`)));
    });
    const probe = () => spawnSync('sh', ['-c', m[1]], { env: { ...process.env, PAGODA_HTTP_PORT: port }, timeout: 5000 }).status;
    let healthy = false;
    for (let i = 0; i < 120 && !healthy; i++) {
      healthy = probe() === 0;
      if (!healthy) await new Promise((r) => setTimeout(r, 500));
    }
    check('HEALTHCHECK command reports a serving pagoda healthy', () => (healthy ? [] : ['never healthy']));
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
    check('HEALTHCHECK command reports a stopped pagoda unhealthy', () => (probe() !== 0 ? [] : ['healthy after exit']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

summary();
