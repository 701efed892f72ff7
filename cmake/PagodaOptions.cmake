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

# No floating-point contraction anywhere: batch invariance and bit-identical
# results across ISA-specific builds of the same kernel depend on every
# multiply and add being rounded as written.
add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-ffp-contract=off>)
