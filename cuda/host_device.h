// PAGODA_HD marks a function of a header that kernels and host code share
// (the tests run such code on host threads): host and device under nvcc,
// host alone elsewhere.
#pragma once

#if defined(__CUDACC__)
#define PAGODA_HD __host__ __device__
#else
#define PAGODA_HD
#endif
