# Build options. Defaults give an optimised build with every backend that can
# be compiled on this machine.
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

set(PAGODA_CUDA AUTO CACHE STRING "Compile the CUDA backend: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE PAGODA_CUDA PROPERTY STRINGS AUTO ON OFF)
set(PAGODA_SERVER AUTO CACHE STRING "Build the gRPC/HTTP server: AUTO (when its libraries are found), ON or OFF")
set_property(CACHE PAGODA_SERVER PROPERTY STRINGS AUTO ON OFF)
set(PAGODA_SANITIZE "" CACHE STRING "Sanitizers: '' , 'address' (ASan+UBSan) or 'thread' (TSan)")
set_property(CACHE PAGODA_SANITIZE PROPERTY STRINGS "" address thread)
set(PAGODA_CUDA_ARCHITECTURES "80;90" CACHE STRING "GPU architectures to compile for")

if(DEFINED ENV{CI} AND "$ENV{CI}" STREQUAL "true")
  set(_pagoda_werror_default ON)
else()
  set(_pagoda_werror_default OFF)
endif()
option(PAGODA_WERROR "Treat warnings as errors (on in CI)" ${_pagoda_werror_default})
option(PAGODA_BUILD_TESTS "Build the tests" ON)
option(PAGODA_BUILD_BENCH "Build the benchmarks in bench/" ON)
option(PAGODA_FUZZ "Also build the libFuzzer targets; everything gets ASan+UBSan (clang only)" OFF)
option(PAGODA_NATIVE "Tune host code for this machine's CPU (-march=native)" OFF)

# Unity builds by default: each target's files compile in batches of up to 16
# per translation unit, so the heavy headers (gRPC and protobuf, Boost.Beast,
# nlohmann/json, CLI11, GoogleTest) are parsed and their templates
# instantiated once per batch rather than once per file. On two cores this
# halves a clean build (docs/reliability.md, "CI time"). Files with their own
# compile options (the AVX2/AVX-512 kernels) are never batched, nor is the
# generated protobuf code. Iterating on one file, -DCMAKE_UNITY_BUILD=OFF
# recompiles only that file (and is the check that each file compiles on its
# own includes, which a batch can hide).
set(CMAKE_UNITY_BUILD ON CACHE BOOL "Compile each target's sources in batches (unity build)")
set(CMAKE_UNITY_BUILD_BATCH_SIZE 16 CACHE STRING "Source files per unity translation unit")

# No floating-point contraction anywhere: batch invariance and bit-identical
# results across ISA-specific builds of the same kernel depend on every
# multiply and add being rounded as written.
add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-ffp-contract=off>)
