// cpu_ops.h's kernels compiled for AVX-512 (this file is compiled with
// -mavx512f -mavx512bw -mavx512vl).
#define PAGODA_OPS_NS avx512
#include "engine/cpu/cpu_ops_kernel.inc"
