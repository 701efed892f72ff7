// PAGODA_HD marks a function of a header that kernels and host code share
// (the tests run such code on host threads): host and device under nvcc,
// host alone elsewhere. Also the arithmetic such code needs rounded alike on
// both.
#pragma once

#if defined(__CUDACC__)
#define PAGODA_HD __host__ __device__
#else
#define PAGODA_HD
#endif

namespace pagoda::cuda {

// a * b + c rounded after the product and after the sum, on the device as on
// the host: nvcc would otherwise fuse them into one fma (rounded once), which
// host builds (-ffp-contract=off) never do, and the two could differ in the
// last bit.
PAGODA_HD inline double mul_add_rounded_twice(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(__dmul_rn(a, b), c);
#else
  return a * b + c;
#endif
}

}  // namespace pagoda::cuda
