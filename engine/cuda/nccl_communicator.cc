#include "engine/cuda/nccl_communicator.h"

#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cuda/cuda_status.h"
#include "cuda/device_buffer.h"

namespace pagoda::cuda {
namespace {

Status nccl_status(ncclResult_t r, const std::string& what) {
  if (r == ncclSuccess) return ok_status();
  return internal_error(what + ": " + ncclGetErrorString(r));
}

// How wait() polls: yielding between polls for the first kSpin (a decode
// step's wait; cudaStreamSynchronize spins too), sleeping kSleep after
// (a long prefill's wait then costs under 1 % more, and no core).
constexpr auto kSpin = std::chrono::milliseconds(20);
constexpr auto kSleep = std::chrono::microseconds(100);

// 1, 4, 16, ... up to `most`, and `most` (none when it is 0): NCCL picks
// its algorithm and protocol by size, and sets each up at first use.
std::vector<std::int64_t> warm_up_counts(std::int64_t most) {
  std::vector<std::int64_t> counts;
  for (std::int64_t n = 1; n < most; n *= 4)
    counts.push_back(n);
  if (most > 0) counts.push_back(most);
  return counts;
}

Status aborted_communicator() {
  return failed_precondition("this rank's NCCL communicator was aborted after a failed step");
}

}  // namespace

StatusOr<std::vector<std::unique_ptr<NcclCommunicator>>> NcclCommunicator::wrap(
    const std::vector<int>& devices, std::vector<ncclComm_t> comms, int first_rank, int world_size) {
  std::vector<std::unique_ptr<NcclCommunicator>> out;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(devices[i]));
    cudaStream_t stream = nullptr;
    PAGODA_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    out.push_back(std::unique_ptr<NcclCommunicator>(
        new NcclCommunicator(comms[i], first_rank + static_cast<int>(i), world_size, devices[i], stream)));
  }
  return out;
}

StatusOr<std::vector<std::unique_ptr<NcclCommunicator>>> NcclCommunicator::create_group(
    const std::vector<int>& devices) {
  const int n = static_cast<int>(devices.size());
  if (n < 1) return invalid_argument("NCCL group needs at least one device");
  std::vector<ncclComm_t> comms(static_cast<std::size_t>(n), nullptr);
  PAGODA_RETURN_IF_ERROR(nccl_status(ncclCommInitAll(comms.data(), n, devices.data()), "ncclCommInitAll"));
  return wrap(devices, std::move(comms), 0, n);
}

Status NcclCommunicator::warm_up(const std::vector<std::unique_ptr<NcclCommunicator>>& local,
                                 std::int64_t max_reduce_count, std::int64_t max_gather_count,
                                 double timeout_s) {
  // Every buffer first, so that no rank's allocation can fail once another
  // rank waits in a collective for it.
  struct Buffers {
    DeviceBuffer reduce, send, recv;
  };
  std::vector<Buffers> buffers(local.size());
  for (std::size_t i = 0; i < local.size(); ++i) {
    const NcclCommunicator& c = *local[i];
    PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(c.device_));
    const auto floats = [](std::int64_t n) { return static_cast<std::size_t>(n) * sizeof(float); };
    PAGODA_ASSIGN_OR_RETURN(buffers[i].reduce,
                            DeviceBuffer::allocate(floats(max_reduce_count), "the NCCL warm-up"));
    PAGODA_ASSIGN_OR_RETURN(buffers[i].send,
                            DeviceBuffer::allocate(floats(max_gather_count), "the NCCL warm-up"));
    PAGODA_ASSIGN_OR_RETURN(buffers[i].recv, DeviceBuffer::allocate(floats(max_gather_count * c.world_size_),
                                                                    "the NCCL warm-up"));
  }
  std::stop_source failed;
  std::vector<Status> status(local.size());
  const auto run = [&](std::size_t i) {
    NcclCommunicator& c = *local[i];
    Buffers& b = buffers[i];
    Status s = cuda_status(cudaSetDevice(c.device_), "cudaSetDevice");
    for (const std::int64_t n : warm_up_counts(max_reduce_count))
      if (s.ok()) s = c.enqueue_all_reduce_sum(b.reduce.as<float>(), n, c.stream_);
    for (const std::int64_t n : warm_up_counts(max_gather_count))
      if (s.ok()) s = c.enqueue_all_gather(b.send.as<float>(), n, b.recv.as<float>(), c.stream_);
    if (s.ok()) s = c.wait(c.stream_, failed.get_token(), timeout_s);
    if (!s.ok()) {  // as CudaRank::abandon_step: no rank left waiting in a collective
      failed.request_stop();
      c.abort();
      cudaStreamSynchronize(c.stream_);
    }
    status[i] = s.with_context("warming up rank " + std::to_string(c.rank_) + "'s collectives");
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < local.size(); ++i)
    threads.emplace_back(run, i);
  run(0);
  for (std::thread& t : threads)
    t.join();
  for (const Status& s : status)
    PAGODA_RETURN_IF_ERROR(s);
  return ok_status();
}

StatusOr<std::string> NcclCommunicator::new_unique_id() {
  ncclUniqueId id;
  PAGODA_RETURN_IF_ERROR(nccl_status(ncclGetUniqueId(&id), "ncclGetUniqueId"));
  return std::string(id.internal, sizeof id.internal);
}

StatusOr<std::vector<std::unique_ptr<NcclCommunicator>>> NcclCommunicator::create_ranks(
    const std::vector<int>& devices, const std::string& unique_id, int first_rank, int world_size) {
  ncclUniqueId id;
  if (unique_id.size() != sizeof id.internal)
    return invalid_argument("the leader's NCCL id has the wrong size");
  std::memcpy(id.internal, unique_id.data(), sizeof id.internal);
  const int n = static_cast<int>(devices.size());
  if (n < 1 || first_rank < 0 || first_rank + n > world_size)
    return invalid_argument("NCCL ranks out of range");
  // Every device is checked before any rank starts joining: ranks queued in
  // the group below join at ncclGroupEnd, and wait there for ever for a rank
  // of theirs that never joins.
  int num_devices = 0;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&num_devices));
  for (const int d : devices) {
    if (d < 0 || d >= num_devices) {
      return invalid_argument("CUDA device " + std::to_string(d) + " does not exist (" +
                              std::to_string(num_devices) + " visible)");
    }
  }
  std::vector<ncclComm_t> comms(static_cast<std::size_t>(n), nullptr);
  // Several ranks of one process must initialise inside one group call. The
  // group is closed on every path (an open one would hold back this thread's
  // later NCCL calls), and on an error the communicators made are aborted.
  PAGODA_RETURN_IF_ERROR(nccl_status(ncclGroupStart(), "ncclGroupStart"));
  Status st = ok_status();
  for (int i = 0; i < n && st.ok(); ++i) {
    st = cuda_status(cudaSetDevice(devices[static_cast<std::size_t>(i)]), "cudaSetDevice");
    if (st.ok()) {
      st = nccl_status(ncclCommInitRank(&comms[static_cast<std::size_t>(i)], world_size, id, first_rank + i),
                       "ncclCommInitRank");
    }
  }
  const Status ended = nccl_status(ncclGroupEnd(), "ncclGroupEnd (ncclCommInitRank)");
  if (st.ok()) st = ended;
  if (!st.ok()) {
    cudaGetLastError();  // a refused cudaSetDevice: later checks start clean
    for (ncclComm_t c : comms) {
      if (c != nullptr) ncclCommAbort(c);
    }
    return st;
  }
  return wrap(devices, std::move(comms), first_rank, world_size);
}

NcclCommunicator::~NcclCommunicator() {
  cudaSetDevice(device_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  if (comm_ != nullptr) ncclCommDestroy(comm_);
}

Status NcclCommunicator::wait(cudaStream_t stream, const std::stop_token& give_up, double timeout_s) const {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    const cudaError_t done = cudaStreamQuery(stream);
    if (done != cudaSuccess && done != cudaErrorNotReady)
      return cuda_status(done, "rank " + std::to_string(rank_) + "'s stream");
    // Checked when the stream is done too: collectives NCCL failed may end
    // without their results.
    if (comm_ != nullptr) {
      ncclResult_t async = ncclSuccess;
      PAGODA_RETURN_IF_ERROR(nccl_status(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError"));
      if (async != ncclSuccess && async != ncclInProgress)
        return nccl_status(async, "NCCL error in rank " + std::to_string(rank_) + "'s collectives");
    }
    if (done == cudaSuccess) return ok_status();
    if (give_up.stop_requested()) {
      return pagoda::aborted("rank " + std::to_string(rank_) +
                             " stopped waiting for its collectives: another rank of the group failed");
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (timeout_s > 0 && waited > std::chrono::duration<double>(timeout_s)) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", timeout_s);
      return deadline_exceeded("rank " + std::to_string(rank_) + "'s collectives did not finish within " +
                               secs + " s (--collective-timeout): a peer rank may be stalled or cut off");
    }
    if (waited < kSpin) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(kSleep);
    }
  }
}

void NcclCommunicator::abort() {
  if (comm_ == nullptr) return;
  cudaSetDevice(device_);
  ncclCommAbort(comm_);
  comm_ = nullptr;
}

Status NcclCommunicator::enqueue_all_reduce_sum(float* data, std::int64_t count, cudaStream_t stream) {
  if (comm_ == nullptr) return aborted_communicator();
  return nccl_status(
      ncclAllReduce(data, data, static_cast<std::size_t>(count), ncclFloat32, ncclSum, comm_, stream),
      "ncclAllReduce");
}

Status NcclCommunicator::enqueue_all_gather(const float* send, std::int64_t count, float* recv,
                                            cudaStream_t stream) {
  if (comm_ == nullptr) return aborted_communicator();
  return nccl_status(ncclAllGather(send, recv, static_cast<std::size_t>(count), ncclFloat32, comm_, stream),
                     "ncclAllGather");
}

void NcclCommunicator::finish(Status s) {
  if (s.ok()) s = wait(stream_);
  if (!s.ok() && error_.ok()) error_ = s;
}

Status NcclCommunicator::begin_host_call() {
  PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  return cuda_status(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize (legacy stream)");
}

void NcclCommunicator::all_reduce_sum(float* data, std::int64_t count) {
  Status s = begin_host_call();
  finish(s.ok() ? enqueue_all_reduce_sum(data, count, stream_) : s);
}

void NcclCommunicator::all_gather(const float* send, std::int64_t count, float* recv) {
  Status s = begin_host_call();
  finish(s.ok() ? enqueue_all_gather(send, count, recv, stream_) : s);
}

void NcclCommunicator::broadcast(void* data, std::int64_t bytes, int root) {
  Status s = begin_host_call();
  if (s.ok() && comm_ == nullptr) s = aborted_communicator();
  if (s.ok()) {
    s = nccl_status(
        ncclBroadcast(data, data, static_cast<std::size_t>(bytes), ncclUint8, root, comm_, stream_),
        "ncclBroadcast");
  }
  finish(s);
}

void NcclCommunicator::barrier() {
  // An all-reduce of one float is NCCL's barrier.
  Status s = begin_host_call();
  float* one = nullptr;
  if (s.ok()) {
    s = cuda_status(cudaMallocAsync(reinterpret_cast<void**>(&one), sizeof(float), stream_),
                    "cudaMallocAsync");
  }
  if (s.ok()) s = enqueue_all_reduce_sum(one, 1, stream_);
  if (one != nullptr) cudaFreeAsync(one, stream_);
  finish(s);
}

}  // namespace pagoda::cuda
