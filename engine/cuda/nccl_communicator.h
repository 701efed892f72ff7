// NcclCommunicator: the Communicator of one GPU rank, over NCCL. Data pointers
// are device pointers. The Communicator methods block until the collective is
// complete (tests, start-up); the forward pass uses the enqueue_* forms, which
// are ordered on the caller's stream and can be captured in CUDA graphs.
// A group for the GPUs of this process is created together (ncclCommInitAll);
// each instance is then used by its rank's thread only.
// A rank that fails a step cannot leave its peers waiting for it: waits poll
// (wait()), and abort() ends this rank's collectives in flight.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/communicator.h"

namespace pagoda::cuda {

class NcclCommunicator final : public Communicator {
 public:
  // One communicator per entry of `devices` (rank i on devices[i]).
  [[nodiscard]] static StatusOr<std::vector<std::unique_ptr<NcclCommunicator>>> create_group(
      const std::vector<int>& devices);
  // Multi-node: this process's ranks [first_rank, first_rank + devices.size())
  // of a group of world_size, joined with the id the leader made
  // (ncclCommInitRank inside one NCCL group call).
  [[nodiscard]] static StatusOr<std::vector<std::unique_ptr<NcclCommunicator>>> create_ranks(
      const std::vector<int>& devices, const std::string& unique_id, int first_rank, int world_size);
  // A new ncclUniqueId, as bytes to hand to every node.
  [[nodiscard]] static StatusOr<std::string> new_unique_id();
  // Runs an all-reduce and an all-gather at 1, 4, 16, ... floats up to the
  // largest count each will carry (per rank; 0: that collective is not
  // used), on every rank of `local` at once (one thread each), so that NCCL
  // sets up the connections and buffers of the algorithms it picks for them
  // now: NCCL 2.22 and later connect lazily, at an algorithm's first use, so
  // memory measured before this would not count them. Every node of a
  // multi-node group must call it at the same point with the same counts.
  // A rank that fails aborts its communicator; waits give up after
  // `timeout_s` (0: never), as wait() does.
  [[nodiscard]] static Status warm_up(const std::vector<std::unique_ptr<NcclCommunicator>>& local,
                                      std::int64_t max_reduce_count, std::int64_t max_gather_count,
                                      double timeout_s);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  int device() const { return device_; }

  // The Communicator interface (blocking; tests and set-up). Each first waits
  // for the device's legacy default stream, where cudaMemcpy and cudaMemset
  // put the caller's data (a pageable cudaMemcpy can return before it lands),
  // since the communicator's own stream does not wait for that one.
  void all_reduce_sum(float* data, std::int64_t count) override;
  void all_gather(const float* send, std::int64_t count, float* recv) override;
  void broadcast(void* data, std::int64_t bytes, int root) override;
  void barrier() override;
  // The first error a blocking collective met (they return void); ok otherwise.
  Status error() const override { return error_; }

  Status enqueue_all_reduce_sum(float* data, std::int64_t count, cudaStream_t stream);
  Status enqueue_all_gather(const float* send, std::int64_t count, float* recv, cudaStream_t stream);

  // Waits until `stream`'s work (this rank's collectives in it included) is
  // done, polling rather than blocking. An error when the stream reports one
  // or when NCCL reports one for this communicator (a peer lost or aborted:
  // ncclCommGetAsyncError), even once the stream is done; kAborted when
  // `give_up` is requested first (another rank of this process failed, so a
  // collective here may wait for it forever); kDeadlineExceeded after
  // `timeout_s` (0: none; a peer stalled or cut off without NCCL noticing).
  // After an error the stream may still hold work.
  Status wait(cudaStream_t stream, const std::stop_token& give_up = {}, double timeout_s = 0) const;
  // Aborts the communicator (ncclCommAbort): its collectives in flight end
  // without completing and peers' collectives with this rank fail. Later
  // collectives are refused. Idempotent.
  void abort();
  bool aborted() const { return comm_ == nullptr; }

 private:
  NcclCommunicator(ncclComm_t comm, int rank, int world_size, int device, cudaStream_t stream)
      : comm_(comm), rank_(rank), world_size_(world_size), device_(device), stream_(stream) {}
  // Before a blocking collective: this device current, its legacy stream done.
  Status begin_host_call();
  void finish(Status s);
  static StatusOr<std::vector<std::unique_ptr<NcclCommunicator>>> wrap(const std::vector<int>& devices,
                                                                       std::vector<ncclComm_t> comms,
                                                                       int first_rank, int world_size);

  ncclComm_t comm_;  // null once aborted
  int rank_;
  int world_size_;
  int device_;
  cudaStream_t stream_;  // for the blocking collectives
  Status error_;
};

}  // namespace pagoda::cuda
