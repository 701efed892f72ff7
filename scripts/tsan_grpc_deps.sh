#!/usr/bin/env bash
# Builds Abseil and gRPC with ThreadSanitizer from Debian's own source packages
# (the versions and patches of the libabsl/libgrpc++ packages we link in
# production) into a prefix, so that `make test-tsan-grpc` can run the gRPC
# front end's tests under TSan with every thread hand-off inside gRPC visible.
# Debian ships these libraries only uninstrumented.
#
# Usage: scripts/tsan_grpc_deps.sh PREFIX
# Idempotent: does nothing when PREFIX already holds this script's build of
# the installed package versions (stamp file PREFIX/.stamp). Needs the deb-src
# archive (fetched with a private apt configuration; the system's is not
# touched), clang, cmake and ninja. Takes ~4 minutes on two cores.
#
# The build is kept in a machine-wide cache (PAGODA_TSAN_DEPS_CACHE, default
# ~/.cache/pagoda/tsan-deps), one directory per stamp, and PREFIX becomes a
# link to it: clean clones on the same machine (CI's) reuse it instead of
# building again. Set PAGODA_TSAN_DEPS_CACHE= (empty) to build into PREFIX.
set -euo pipefail

prefix=${1:?usage: tsan_grpc_deps.sh PREFIX}
jobs=${JOBS:-$(nproc)}

version_of() { dpkg-query -W -f='${source:Version}' "$1"; }
absl_version=$(version_of libabsl-dev)
grpc_version=$(version_of libgrpc++-dev)
stamp="absl $absl_version, grpc $grpc_version, $(sha256sum "$0" | cut -c1-16)"
if [[ -f $prefix/.stamp && $(cat "$prefix/.stamp") == "$stamp" ]]; then
  echo "tsan_grpc_deps: $prefix is up to date ($stamp)"
  exit 0
fi

cache_root=${PAGODA_TSAN_DEPS_CACHE-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/pagoda/tsan-deps}
if [[ -n $cache_root ]] && mkdir -p "$cache_root" 2>/dev/null && [[ -w $cache_root ]]; then
  cached=$cache_root/$(echo "$stamp" | sha256sum | cut -c1-16)
  # One build per stamp at a time; others wait for it and then link it.
  exec 9>"$cached.lock"
  flock 9
  if [[ ! -f $cached/.stamp || $(cat "$cached/.stamp") != "$stamp" ]]; then
    rm -rf "$cached"
    PAGODA_TSAN_DEPS_CACHE='' bash "$0" "$cached"
  else
    echo "tsan_grpc_deps: reusing $cached ($stamp)"
  fi
  rm -rf "$prefix"
  ln -sfn "$cached" "$prefix"
  exit 0
fi

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=$prefix/src
rm -rf "$work" "$prefix/.stamp"
mkdir -p "$work/apt/lists/partial"
log=$work/build.log
# Runs a step with its output in $log; on failure shows the log's end.
quietly() {
  "$@" >>"$log" 2>&1 || {
    tail -n 60 "$log" >&2
    echo "tsan_grpc_deps: failed: $* (whole log: $log)" >&2
    exit 1
  }
}
echo "deb-src http://deb.debian.org/debian bookworm main" >"$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/apt/lists" -o Dir::Cache=/dev/null -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update
# The installed versions; if the archive has moved on, its current ones (the
# prefix is self-consistent either way: our TSan build takes every gRPC and
# Abseil header from it).
for pkg in "abseil=$absl_version" "grpc=$grpc_version"; do
  (cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only "$pkg" 2>/dev/null) ||
    (cd "$work" && echo "tsan_grpc_deps: $pkg is no longer in the archive; using its current version" &&
      apt-get "${apt_opts[@]}" -qq source --download-only "${pkg%%=*}")
done
(cd "$work" && quietly dpkg-source --no-check -x abseil_*.dsc absl && quietly dpkg-source --no-check -x grpc_*.dsc grpc)
sed -i -E 's/install\(TARGETS (grpc_unsecure|grpc\+\+_unsecure) EXPORT gRPCTargets/install(TARGETS \1 OPTIONAL/' \
  "$work/grpc/CMakeLists.txt"

# -O1 with line tables: TSan's reports name lines; the build stays quick.
flags="-fsanitize=thread -O1 -gline-tables-only"
common=(-G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
  "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON
  "-DCMAKE_INSTALL_PREFIX=$prefix" "-DCMAKE_PREFIX_PATH=$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  "-DCMAKE_INSTALL_RPATH=$prefix/lib")

start=$SECONDS
quietly cmake -S "$work/absl" -B "$work/absl-build" "${common[@]}" -DBUILD_TESTING=OFF
quietly cmake --build "$work/absl-build" -j "$jobs"
quietly cmake --install "$work/absl-build"
echo "tsan_grpc_deps: Abseil (TSan) built in $((SECONDS - start)) s"

# As Debian configures it (debian/rules), less what a C++ server does not use:
# no code generators but C++'s (reflection's generated code needs it), no
# C#/Objective-C/Python/Ruby/PHP/Node pieces.
start=$SECONDS
quietly cmake -S "$work/grpc" -B "$work/grpc-build" "${common[@]}" -DgRPC_INSTALL=ON -DgRPC_BUILD_TESTS=OFF \
  -DgRPC_BUILD_CSHARP_EXT=OFF -DgRPC_BUILD_GRPC_CSHARP_PLUGIN=OFF \
  -DgRPC_BUILD_GRPC_NODE_PLUGIN=OFF -DgRPC_BUILD_GRPC_OBJECTIVE_C_PLUGIN=OFF -DgRPC_BUILD_GRPC_PHP_PLUGIN=OFF \
  -DgRPC_BUILD_GRPC_PYTHON_PLUGIN=OFF -DgRPC_BUILD_GRPC_RUBY_PLUGIN=OFF -DgRPC_ABSL_PROVIDER=package \
  -DgRPC_CARES_PROVIDER=package -DgRPC_PROTOBUF_PROVIDER=package -DgRPC_RE2_PROVIDER=package \
  -DgRPC_SSL_PROVIDER=package -DgRPC_ZLIB_PROVIDER=package -DgRPC_BENCHMARK_PROVIDER=none
# The libraries and the generator gRPC installs (its exported CMake package
# names them all), less the "unsecure" variants of its core and C++ library —
# a third of the build; nothing of ours links them, so they leave the
# exported package (a pattern that no longer matches only costs time).
quietly cmake --build "$work/grpc-build" -j "$jobs" --target gpr grpc address_sorting upb grpc++ \
  grpc++_alts grpc++_error_details grpc++_reflection grpcpp_channelz grpc_cpp_plugin
quietly cmake --install "$work/grpc-build"
echo "tsan_grpc_deps: gRPC (TSan) built in $((SECONDS - start)) s"

rm -rf "$work"
echo "$stamp" >"$prefix/.stamp"
