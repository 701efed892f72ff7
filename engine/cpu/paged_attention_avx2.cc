// paged_attention's scalar specification compiled for AVX2 + FMA (this file is
// compiled with -mavx2 -mfma, so std::fma is one instruction).
#define PAGODA_ATTENTION_NS avx2
#include "engine/cpu/paged_attention_kernel.inc"
