// cpu_ops.h's kernels for the baseline ISA.
#define PAGODA_OPS_NS generic
#include "engine/cpu/cpu_ops_kernel.inc"
