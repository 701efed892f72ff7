# Decides whether the CUDA backend is compiled. AUTO compiles it whenever nvcc
# is found (also on machines without a GPU: the code must always compile).
set(PAGODA_HAVE_CUDA OFF)
if(NOT PAGODA_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES ${PAGODA_CUDA_ARCHITECTURES})
    enable_language(CUDA)
    # CMake 3.25 knows no CUDA20 dialect for nvcc; device code is C++17.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    # Compressed device code (the driver expands it when the module loads):
    # about a third of the size, which every binary linking pagoda_cuda
    # carries (6.1 -> ~2 MB each; `make device-build` ships seven under 64 MiB).
    string(APPEND CMAKE_CUDA_FLAGS " -Xfatbin=-compress-all")
    find_package(CUDAToolkit REQUIRED)
    set(PAGODA_HAVE_CUDA ON)
  elseif(PAGODA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PAGODA_CUDA=ON but no CUDA compiler was found (looked for nvcc on PATH and /usr/local/cuda/bin/nvcc)")
  else()
    message(STATUS "pagoda: no nvcc found, building without the CUDA backend")
  endif()
endif()
