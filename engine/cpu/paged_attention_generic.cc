// paged_attention's scalar specification for the baseline ISA.
#define PAGODA_ATTENTION_NS generic
#include "engine/cpu/paged_attention_kernel.inc"
