// Warp-level tensor-core and asynchronous-copy instructions (sm_80+), as thin
// wrappers over their PTX: cp.async 16-byte copies global -> shared with
// commit / wait groups, ldmatrix .x4 (and .trans), and mma.m16n8k16 with bf16
// inputs and f32 accumulators. Fragment layouts are the PTX ISA's (lane =
// 4 * group + t): A regs {(g, 2t), (g + 8, 2t), (g, 2t + 8), (g + 8, 2t + 8)},
// B regs {(k 2t, n g), (k 2t + 8, n g)}, C {(g, 2t), (g, 2t + 1), (g + 8, 2t),
// (g + 8, 2t + 1)}; each pair of bf16 in a register holds the lower column in
// its low half. ldmatrix.x4 gives register i the 8x8 matrix whose row
// addresses lanes 8i..8i+7 supply; .trans transposes each. Device code only;
// built for the SIMT emulator (PAGODA_SIMT) each is its emulation
// (tests/cuda/simt/simt_ptx.h).
#pragma once

#include <cstdint>

namespace pagoda::cuda {

#if !defined(PAGODA_SIMT)
__device__ __forceinline__ unsigned shared_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
#endif

// 16 bytes global -> shared, asynchronous; zero-fills (reads nothing) when !fill.
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool fill) {
#if defined(PAGODA_SIMT)
  simt::cp_async_16(dst, src, fill);
#else
  const int src_bytes = fill ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src),
               "r"(src_bytes)
               : "memory");
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(PAGODA_SIMT)
  simt::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most `kPending` of this thread's committed groups are in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(PAGODA_SIMT)
  simt::cp_async_wait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const std::uint16_t* p) {
#if defined(PAGODA_SIMT)
  simt::ldmatrix_x4(r, p, false);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
#endif
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const std::uint16_t* p) {
#if defined(PAGODA_SIMT)
  simt::ldmatrix_x4(r, p, true);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
#endif
}

// d += a * b for one m16n8k16 tile, bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#if defined(PAGODA_SIMT)
  simt::mma_m16n8k16_bf16(d, a, b0, b1);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

}  // namespace pagoda::cuda
