// Helpers shared by the CUDA kernel tests: a fixture that skips without a
// device, device buffers poisoned with NaN bytes, checked host <-> device
// copies, random f32 / bf16 data and the error measures. Test code; one thread.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "base/bf16.h"
#include "cuda/cuda_device.h"
#include "cuda/device_buffer.h"

namespace pagoda::cuda::kernel_test {

inline ::testing::AssertionResult cuda_ok(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ")";
}

// ASSERT_EQ(expr, cudaSuccess), naming the call and the error.
#define PAGODA_ASSERT_CUDA(expr) ASSERT_TRUE(::pagoda::cuda::kernel_test::cuda_ok((expr), #expr))

// Every test of a kernel skips on a machine without a CUDA device.
class CudaKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (list_devices().empty()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
    PAGODA_ASSERT_CUDA(cudaSetDevice(0));
  }
};

// bf16 bits of an unwritten element: cudaMemset(0xFF) makes NaN of f32 and bf16.
constexpr std::uint16_t kPoisonBf16 = 0xFFFF;

// `count` elements of T on the device, every byte 0xFF.
template <typename T>
void alloc_poisoned(std::size_t count, DeviceBuffer* buf) {
  auto b = DeviceBuffer::allocate(count * sizeof(T), "kernel test buffer");
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  *buf = std::move(b).value();
  PAGODA_ASSERT_CUDA(cudaMemset(buf->get(), 0xFF, buf->bytes()));
}

template <typename T>
void upload(const std::vector<T>& host, DeviceBuffer* buf) {
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<T>(host.size(), buf));
  PAGODA_ASSERT_CUDA(cudaMemcpy(buf->get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
}

// The whole buffer, as elements of T.
template <typename T>
void download(const DeviceBuffer& buf, std::vector<T>* host) {
  host->assign(buf.bytes() / sizeof(T), T{});
  PAGODA_ASSERT_CUDA(cudaMemcpy(host->data(), buf.get(), buf.bytes(), cudaMemcpyDeviceToHost));
}

// Waits for the launches on the legacy stream; surfaces asynchronous errors.
inline void sync_device() {
  PAGODA_ASSERT_CUDA(cudaDeviceSynchronize());
  PAGODA_ASSERT_CUDA(cudaGetLastError());
}

inline std::vector<float> random_f32(std::mt19937& rng, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v)
    x = dist(rng);
  return v;
}

inline std::vector<std::uint16_t> random_bf16(std::mt19937& rng, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<std::uint16_t> v(n);
  for (std::uint16_t& x : v)
    x = f32_to_bf16(dist(rng));
  return v;
}

inline std::vector<float> bf16_to_f32_vector(const std::vector<std::uint16_t>& b) {
  std::vector<float> out(b.size());
  for (std::size_t i = 0; i < b.size(); ++i)
    out[i] = bf16_to_f32(b[i]);
  return out;
}

inline std::int64_t count_non_finite(const std::vector<float>& v) {
  return std::count_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
}

inline std::int64_t count_non_finite(const std::vector<std::uint16_t>& v) {
  return std::count_if(v.begin(), v.end(), [](std::uint16_t x) { return !std::isfinite(bf16_to_f32(x)); });
}

// ||out - ref|| / ||ref|| with double accumulation; NaN (never passes) when
// out holds a NaN, sizes differ or ref is all zero.
inline double rel_error(const std::vector<float>& out, const std::vector<float>& ref) {
  if (out.size() != ref.size()) return std::nan("");
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double d = static_cast<double>(out[i]) - static_cast<double>(ref[i]);
    num += d * d;
    den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  if (den == 0.0) return std::nan("");
  return std::sqrt(num / den);
}

inline float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v)
    m = std::max(m, std::fabs(x));
  return m;
}

// Elements of a bf16 output that are not the f32 reference rounded to bf16:
// correct rounding is within half a bf16 ulp (<= 2^-8 |ref|); the factor 1.01
// and abs_tol leave room for the last-bit f32 differences between the CPU and
// the device computing ref. NaN always counts.
inline std::int64_t count_misrounded(const std::vector<std::uint16_t>& out, const std::vector<float>& ref,
                                     double abs_tol) {
  if (out.size() != ref.size()) return -1;
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double r = ref[i];
    const double diff = std::fabs(static_cast<double>(bf16_to_f32(out[i])) - r);
    if (!(diff <= std::ldexp(std::fabs(r), -8) * 1.01 + abs_tol)) ++bad;
  }
  return bad;
}

// Elements of a bf16 output more than one bf16 ulp (<= 2^-7 |ref|) from a bf16
// reference, when both round nearly equal f32 values. A poisoned reference
// element (never written by the reference) must still be poisoned in out.
inline std::int64_t count_bf16_mismatches(const std::vector<std::uint16_t>& out,
                                          const std::vector<std::uint16_t>& ref, double abs_tol) {
  if (out.size() != ref.size()) return -1;
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (ref[i] == kPoisonBf16) {
      if (out[i] != kPoisonBf16) ++bad;
      continue;
    }
    const double r = bf16_to_f32(ref[i]);
    const double diff = std::fabs(static_cast<double>(bf16_to_f32(out[i])) - r);
    if (!(diff <= std::ldexp(std::fabs(r), -7) * 1.01 + abs_tol)) ++bad;
  }
  return bad;
}

}  // namespace pagoda::cuda::kernel_test
