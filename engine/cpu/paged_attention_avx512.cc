// paged_attention compiled for AVX-512 (see paged_attention_kernel.inc).
#define PAGODA_ATTENTION_NS avx512
#include "engine/cpu/paged_attention_kernel.inc"
