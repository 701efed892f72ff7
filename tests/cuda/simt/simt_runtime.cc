// The CUDA runtime API for binaries that run Pagoda's kernels on the SIMT
// emulator instead of a GPU: emulated devices of compute capability 9.0
// (PAGODA_SIMT_DEVICES, default 4, so tensor-parallel ranks run too; each
// thread has a current device) whose memory is host memory. Allocations end at a guard page (reads past
// them fault) and start as 0xFF bytes; every stream runs its work at once in
// call order, except while it captures a graph, whose launch replays it.
// Calls a real device forbids during a capture (synchronous copies, memsets,
// allocation, synchronisation) fail it, as on a device. A programmatic
// launch's part before its wait runs first with the device's memory fenced
// off (DeviceMemoryFence). Thread-safe: one
// mutex, and launches run one at a time.
#include "tests/cuda/simt/simt_runtime.h"

#include <cuda_profiler_api.h>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tests/cuda/simt/simt.h"

using Op = std::function<void()>;

struct CUgraph_st {
  std::vector<Op> ops;
};
struct CUgraphExec_st {
  std::vector<Op> ops;
};
struct CUstream_st {
  int device = 0;                 // current when it was created
  std::atomic<bool> held{false};  // pagoda::simt::hold_stream
  bool capturing = false;
  bool capture_invalid = false;
  std::unique_ptr<CUgraph_st> capture;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point at;
  bool recorded = false;
};

namespace pagoda::simt {
namespace {

constexpr std::size_t kTotalMemoryBytes = std::size_t{16} << 30;
constexpr std::size_t kPoisonLimitBytes = std::size_t{256} << 20;  // larger allocations start zeroed
constexpr int kDefaultSms = 16;
constexpr int kL2CacheBytes = 1 << 20;  // GEMM timing flushes twice this between runs
constexpr int kDefaultDevices = 4;
constexpr int kStaticSmemBytes = 48 * 1024;
constexpr int kMaxSmemBytes = 227 * 1024;

struct Mapping {
  void* base;
  std::size_t bytes;
  std::size_t size;
  int device;
};

struct Runtime {
  std::mutex mutex;
  std::map<void*, Mapping> allocations;        // by the pointer handed out
  std::map<int, std::size_t> allocated_bytes;  // by device
  std::map<const void*, int> smem_opt_in;
  std::map<const void*, int> fenced_launches;  // programmatic launches checked, by kernel
  std::map<int, int> launches_until_failure;   // by device (inject_launch_failure)
  std::map<int, bool> device_streams_held;     // by device (hold_device_streams)
  std::map<int, bool> device_faulted;          // by device (inject_device_fault)
  CUstream_st default_stream;
};

Runtime& runtime() {
  static Runtime* r = new Runtime;  // never destroyed: used until exit
  return *r;
}

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_device = 0;
thread_local CUstream_st* t_capturing = nullptr;  // the stream this thread captures on

cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}

int env_count(const char* name, int fallback) {
  const char* s = std::getenv(name);
  const int n = s != nullptr ? std::atoi(s) : fallback;
  return n > 0 ? n : fallback;
}

int num_sms() {
  return env_count("PAGODA_SIMT_SMS", kDefaultSms);
}
int num_devices() {
  return env_count("PAGODA_SIMT_DEVICES", kDefaultDevices);
}
bool valid_device(int d) {
  return d >= 0 && d < num_devices();
}

CUstream_st* resolve(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return &runtime().default_stream;
  return s;
}

// A call a device refuses while this thread captures: fails the capture.
bool refused_in_capture() {
  if (t_capturing == nullptr) return false;
  t_capturing->capture_invalid = true;
  t_last_error = cudaErrorStreamCaptureUnsupported;
  return true;
}

std::size_t page_bytes() {
  return static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// cudaMemcpy2D's copy: `height` rows of `width` bytes, each at its pitch.
void copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
               std::size_t height) {
  for (std::size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
}

bool faulted(int device) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  return runtime().device_faulted[device];
}

// What a device says to a launch (a kernel's or a graph's) on the current
// device: the one inject_launch_failure asked to refuse (each launch counts),
// or a fault injected there; cudaSuccess otherwise.
cudaError_t injected_launch_error() {
  {
    std::lock_guard<std::mutex> lock(runtime().mutex);
    const auto it = runtime().launches_until_failure.find(t_device);
    if (it != runtime().launches_until_failure.end() && it->second-- == 0) {
      runtime().launches_until_failure.erase(it);
      return cudaErrorLaunchOutOfResources;
    }
  }
  return faulted(t_device) ? cudaErrorIllegalAddress : cudaSuccess;
}

}  // namespace

void hold_stream(cudaStream_t stream, bool held) {
  resolve(stream)->held = held;
}

void inject_device_fault(int device, bool is_faulted) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().device_faulted[device] = is_faulted;
}

void hold_device_streams(int device, bool held) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().device_streams_held[device] = held;
}

void inject_launch_failure(int device, int launches_before) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().launches_until_failure[device] = launches_before;
}

cudaError_t enqueue(cudaStream_t stream, Op op) {
  CUstream_st* s = resolve(stream);
  if (s->capturing) {
    s->capture->ops.push_back(std::move(op));
  } else {
    op();
  }
  return cudaSuccess;
}

// While a programmatic launch runs up to its waits: every allocation of its
// device inaccessible (other threads touch only their own device's memory
// while a kernel runs, or a peer's inside a collective, which this device's
// thread is then in too), and a fault there reported as what it means.
class DeviceMemoryFence {
 public:
  // One fence at a time in the process (the SIGSEGV handler is the process's).
  explicit DeviceMemoryFence(int device) : one_at_a_time_(mutex_) {
    std::lock_guard<std::mutex> lock(runtime().mutex);
    for (const auto& [ptr, m] : runtime().allocations)
      if (m.device == device) fenced_.push_back(m);
    for (const Mapping& m : fenced_)
      mprotect(m.base, m.bytes - page_bytes(), PROT_NONE);
    active_ = &fenced_;
    struct sigaction sa = {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, &previous_);
  }
  ~DeviceMemoryFence() {
    sigaction(SIGSEGV, &previous_, nullptr);
    active_ = nullptr;
    for (const Mapping& m : fenced_)
      mprotect(m.base, m.bytes - page_bytes(), PROT_READ | PROT_WRITE);
  }
  DeviceMemoryFence(const DeviceMemoryFence&) = delete;
  DeviceMemoryFence& operator=(const DeviceMemoryFence&) = delete;

 private:
  static void on_fault(int, siginfo_t* info, void*) {
    const auto* at = static_cast<const unsigned char*>(info->si_addr);
    for (const Mapping& m : *active_) {
      const auto* base = static_cast<const unsigned char*>(m.base);
      if (at >= base && at < base + m.bytes) {
        static const char kMessage[] =
            "simt: a kernel launched in LaunchOrder::kProgrammatic touched device memory before "
            "await_previous_grid() (cuda/kernel_launch.cuh): on a GPU that races with the kernel "
            "before it\n";
        (void)!write(2, kMessage, sizeof kMessage - 1);
        std::abort();
      }
    }
    signal(SIGSEGV, SIG_DFL);  // not ours: fault again, as without the fence
  }

  static inline std::mutex mutex_;
  static inline const std::vector<Mapping>* active_ = nullptr;
  std::lock_guard<std::mutex> one_at_a_time_;
  std::vector<Mapping> fenced_;
  struct sigaction previous_ = {};
};

// Whether to check this programmatic launch's part before its wait: the first
// kFencedLaunches launches of each kernel (fencing costs two mprotect calls
// per allocation, and the part before the wait rarely depends on arguments).
bool fence_this_launch(const void* kernel) {
  constexpr int kFencedLaunches = 8;
  std::lock_guard<std::mutex> lock(runtime().mutex);
  return runtime().fenced_launches[kernel]++ < kFencedLaunches;
}

cudaError_t launch(const void* kernel, dim3 grid, dim3 block, std::size_t dynamic_smem_bytes,
                   cudaStream_t stream, bool programmatic, std::function<void()> body) {
  const unsigned long long threads = static_cast<unsigned long long>(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return record(cudaErrorInvalidConfiguration);
  if (dynamic_smem_bytes > static_cast<std::size_t>(kStaticSmemBytes)) {
    std::lock_guard<std::mutex> lock(runtime().mutex);
    const auto it = runtime().smem_opt_in.find(kernel);
    if (it == runtime().smem_opt_in.end() || dynamic_smem_bytes > static_cast<std::size_t>(it->second))
      return record(cudaErrorInvalidValue);
  }
  if (const cudaError_t e = injected_launch_error(); e != cudaSuccess) return record(e);
  const int device = t_device;
  return enqueue(stream,
                 [kernel, grid, block, dynamic_smem_bytes, programmatic, device, body = std::move(body)] {
                   std::string error;
                   if (programmatic && fence_this_launch(kernel)) {
                     const DeviceMemoryFence fence(device);
                     error = run_grid(grid, block, dynamic_smem_bytes, body, /*until_wait=*/true);
                   }
                   if (error.empty()) error = run_grid(grid, block, dynamic_smem_bytes, body);
                   if (!error.empty()) {
                     std::fprintf(stderr, "simt: kernel failed: %s\n", error.c_str());
                     t_last_error = cudaErrorLaunchFailure;
                   }
                 });
}

}  // namespace pagoda::simt

using pagoda::simt::record;
using pagoda::simt::refused_in_capture;
using pagoda::simt::runtime;

// --- errors ----------------------------------------------------------------

cudaError_t cudaGetLastError() {
  const cudaError_t e = pagoda::simt::t_last_error;
  pagoda::simt::t_last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  return error == cudaErrorLaunchFailure ? "a kernel failed on the SIMT emulator (its message is on stderr)"
                                         : cudaGetErrorName(error);
}

// --- device ----------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  *count = pagoda::simt::num_devices();
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (!pagoda::simt::valid_device(device)) return record(cudaErrorInvalidDevice);
  pagoda::simt::t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = pagoda::simt::t_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!pagoda::simt::valid_device(device)) return record(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "Pagoda SIMT emulator");
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = pagoda::simt::num_sms();
  prop->totalGlobalMem = pagoda::simt::kTotalMemoryBytes;
  prop->sharedMemPerBlock = pagoda::simt::kStaticSmemBytes;
  prop->sharedMemPerBlockOptin = pagoda::simt::kMaxSmemBytes;
  prop->maxThreadsPerBlock = 1024;
  prop->warpSize = 32;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!pagoda::simt::valid_device(device)) return record(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrL2CacheSize:
      *value = pagoda::simt::kL2CacheBytes;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = pagoda::simt::num_sms();
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = pagoda::simt::kMaxSmemBytes;
      return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      return cudaSuccess;
    default:
      return record(cudaErrorInvalidValue);
  }
}

// The emulated device runs code compiled for compute capability 9.0.
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void* /*func*/) {
  *attributes = cudaFuncAttributes{};
  attributes->ptxVersion = 90;
  attributes->binaryVersion = 90;
  attributes->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || value > pagoda::simt::kMaxSmemBytes) return record(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().smem_opt_in[func] = value;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  if (refused_in_capture()) return cudaErrorStreamCaptureUnsupported;
  if (pagoda::simt::faulted(pagoda::simt::t_device)) return record(cudaErrorIllegalAddress);
  return cudaGetLastError();
}

// No profiler here (the bench's --profile brackets steps for ncu).
cudaError_t cudaProfilerStart() {
  return cudaSuccess;
}
cudaError_t cudaProfilerStop() {
  return cudaSuccess;
}

// --- memory ----------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (refused_in_capture()) return cudaErrorStreamCaptureUnsupported;
  const std::size_t page = pagoda::simt::page_bytes();
  const std::size_t used = (size + 255) / 256 * 256;
  const std::size_t bytes = (used + page - 1) / page * page + page;  // + a guard page
  const int device = pagoda::simt::t_device;
  std::lock_guard<std::mutex> lock(runtime().mutex);
  std::size_t& allocated = runtime().allocated_bytes[device];
  if (allocated + used > pagoda::simt::kTotalMemoryBytes) return record(cudaErrorMemoryAllocation);
  void* base =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return record(cudaErrorMemoryAllocation);
  auto* guard = static_cast<unsigned char*>(base) + bytes - page;
  mprotect(guard, page, PROT_NONE);
  unsigned char* p = guard - used;  // 256-byte aligned: the guard is page aligned
  if (used <= pagoda::simt::kPoisonLimitBytes) std::memset(p, 0xFF, used);
  runtime().allocations[p] = pagoda::simt::Mapping{base, bytes, used, device};
  allocated += used;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(runtime().mutex);
  const auto it = runtime().allocations.find(ptr);
  if (it == runtime().allocations.end()) return record(cudaErrorInvalidValue);
  munmap(it->second.base, it->second.bytes);
  runtime().allocated_bytes[it->second.device] -= it->second.size;
  runtime().allocations.erase(it);
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void** ptr, size_t size, cudaStream_t /*stream*/) {
  return cudaMalloc(ptr, size);
}

cudaError_t cudaFreeAsync(void* ptr, cudaStream_t /*stream*/) {
  return cudaFree(ptr);
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  *total_bytes = pagoda::simt::kTotalMemoryBytes;
  *free_bytes = pagoda::simt::kTotalMemoryBytes - runtime().allocated_bytes[pagoda::simt::t_device];
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  *ptr = std::aligned_alloc(256, (size + 255) / 256 * 256);
  return *ptr != nullptr ? cudaSuccess : record(cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind /*kind*/) {
  if (refused_in_capture()) return cudaErrorStreamCaptureUnsupported;
  std::memmove(dst, src, count);
  return cudaGetLastError();  // synchronous: reports an earlier kernel's failure
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind /*kind*/,
                            cudaStream_t stream) {
  return pagoda::simt::enqueue(stream, [=] { std::memmove(dst, src, count); });
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind /*kind*/) {
  if (refused_in_capture()) return cudaErrorStreamCaptureUnsupported;
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidPitchValue);
  pagoda::simt::copy_rows(dst, dpitch, src, spitch, width, height);
  return cudaGetLastError();
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind /*kind*/, cudaStream_t stream) {
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidPitchValue);
  return pagoda::simt::enqueue(stream,
                               [=] { pagoda::simt::copy_rows(dst, dpitch, src, spitch, width, height); });
}

cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  if (refused_in_capture()) return cudaErrorStreamCaptureUnsupported;
  std::memset(ptr, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  return pagoda::simt::enqueue(stream, [=] { std::memset(ptr, value, count); });
}

// --- streams and graphs ----------------------------------------------------

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = new CUstream_st;
  (*stream)->device = pagoda::simt::t_device;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int /*flags*/) {
  return cudaStreamCreate(stream);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (pagoda::simt::resolve(stream)->capturing || refused_in_capture())
    return record(cudaErrorStreamCaptureUnsupported);
  if (pagoda::simt::faulted(pagoda::simt::resolve(stream)->device)) return record(cudaErrorIllegalAddress);
  return cudaGetLastError();
}

// Work runs at enqueue, so a stream is busy only while a test holds it;
// otherwise its errors, as cudaStreamSynchronize reports them.
cudaError_t cudaStreamQuery(cudaStream_t stream) {
  const CUstream_st* s = pagoda::simt::resolve(stream);
  if (s->held) return cudaErrorNotReady;
  {
    std::lock_guard<std::mutex> lock(runtime().mutex);
    if (runtime().device_streams_held[s->device]) return cudaErrorNotReady;
  }
  return cudaStreamSynchronize(stream);
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode /*mode*/) {
  CUstream_st* s = pagoda::simt::resolve(stream);
  if (s == &runtime().default_stream || s->capturing || pagoda::simt::t_capturing != nullptr)
    return record(cudaErrorIllegalState);
  s->capturing = true;
  s->capture_invalid = false;
  s->capture = std::make_unique<CUgraph_st>();
  pagoda::simt::t_capturing = s;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  CUstream_st* s = pagoda::simt::resolve(stream);
  if (!s->capturing) return record(cudaErrorIllegalState);
  s->capturing = false;
  if (pagoda::simt::t_capturing == s) pagoda::simt::t_capturing = nullptr;
  if (s->capture_invalid) {
    s->capture.reset();
    *graph = nullptr;
    return record(cudaErrorStreamCaptureInvalidated);
  }
  *graph = s->capture.release();
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  const CUstream_st* s = pagoda::simt::resolve(stream);
  *status = !s->capturing        ? cudaStreamCaptureStatusNone
            : s->capture_invalid ? cudaStreamCaptureStatusInvalidated
                                 : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long /*flags*/) {
  if (graph == nullptr) return record(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->ops};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return record(cudaErrorInvalidValue);
  if (const cudaError_t e = pagoda::simt::injected_launch_error(); e != cudaSuccess) return record(e);
  for (const Op& op : exec->ops)
    pagoda::simt::enqueue(stream, op);
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

// --- events ----------------------------------------------------------------

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  return pagoda::simt::enqueue(stream, [event] {
    event->at = std::chrono::steady_clock::now();
    event->recorded = true;
  });
}

cudaError_t cudaEventSynchronize(cudaEvent_t /*event*/) {
  return cudaGetLastError();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!start->recorded || !end->recorded) return record(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}
