# Pagoda container images (docs/operations.md). Two targets:
#   docker build -t pagoda:cuda .              # default: CUDA backend (nvcc + NVIDIA runtime libraries)
#   docker build --target cpu -t pagoda:cpu .  # CPU backend only, Debian slim
# Every stage is Debian 12, the platform scripts/setup.sh installs for, so the
# image builds with exactly CI's packages; the CUDA toolkit and runtime come
# from NVIDIA's Debian 12 repository rather than the Ubuntu-based nvidia/cuda
# images. The runtime stages hold the binary and the packages of the shared
# libraries `ldd` lists for it (tests/deploy/dockerfile_test.mjs checks both lists).
ARG CUDA_VERSION=12-8
ARG NVIDIA_REPO=https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64

# --- build: the project's own set-up script, then the `pagoda` target -------
FROM debian:12 AS build-base
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
COPY third_party/npm/package.json third_party/npm/package-lock.json third_party/npm/.npmrc third_party/npm/
RUN bash scripts/setup.sh
COPY . .

FROM build-base AS build-cpu
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPAGODA_CUDA=OFF \
      -DPAGODA_BUILD_TESTS=OFF -DPAGODA_BUILD_BENCH=OFF \
 && cmake --build build --target pagoda

FROM build-base AS build-cuda
ARG CUDA_VERSION
ARG NVIDIA_REPO
ADD ${NVIDIA_REPO}/cuda-keyring_1.1-1_all.deb /tmp/cuda-keyring.deb
RUN dpkg -i /tmp/cuda-keyring.deb && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends cuda-nvcc-${CUDA_VERSION} cuda-cudart-dev-${CUDA_VERSION} \
      libcublas-dev-${CUDA_VERSION} libnccl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPAGODA_CUDA=ON \
      -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DPAGODA_BUILD_TESTS=OFF -DPAGODA_BUILD_BENCH=OFF \
 && cmake --build build --target pagoda

# --- runtime: Debian slim, a non-root user, the binary -----------------------
FROM debian:12-slim AS runtime-base
# The Debian packages whose libraries `ldd build/pagoda` resolves to.
ARG RUNTIME_PACKAGES="libabsl20220623 libc-ares2 libc6 libcivetweb1 libfmt9 libgcc-s1 libgrpc++1.51 libgrpc29 \
  libpcre2-8-0 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprotobuf32 libre2-9 libspdlog1.10 libssl3 \
  libstdc++6 libutf8proc2 zlib1g"
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pagoda
# gRPC, OpenAI-compatible HTTP, Prometheus metrics (`pagoda serve` defaults).
EXPOSE 50051 8000 9090
# /health answers 200 once the model is loaded (no curl in the image: bash's
# /dev/tcp). Set PAGODA_HTTP_PORT when --http-port differs; with TLS on, rely on
# the orchestrator's HTTPS probe instead (Kubernetes ignores HEALTHCHECK).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/${PAGODA_HTTP_PORT:-8000} && printf "GET /health HTTP/1.0\r\n\r\n" >&3 && head -n1 <&3 | grep -q " 200 "'
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/pagoda", "serve"]
# Listen on every interface; mount a Hugging Face snapshot at /models/model.
CMD ["--host=0.0.0.0", "--model=/models/model"]

FROM runtime-base AS cpu
COPY --from=build-cpu /src/build/pagoda /usr/local/bin/pagoda

# The default target (last stage).
FROM runtime-base AS cuda
ARG CUDA_VERSION
ARG NVIDIA_REPO
# NVIDIA runtime libraries of the CUDA build (libcuda itself comes from the
# host driver through the NVIDIA container toolkit): NCCL is linked, cuBLASLt
# loaded at first use (cuda/cublaslt_api.h), the CUDA runtime linked statically.
ARG CUDA_RUNTIME_PACKAGES="libcublas-${CUDA_VERSION} libnccl2"
USER root
ADD ${NVIDIA_REPO}/cuda-keyring_1.1-1_all.deb /tmp/cuda-keyring.deb
RUN dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ${CUDA_RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
COPY --from=build-cuda /src/build/pagoda /usr/local/bin/pagoda
