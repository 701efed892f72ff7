// CpuCommunicator: tensor-parallel collectives between ranks that are threads
// of one process, through shared memory. Make one CpuCommGroup per model and
// one CpuCommunicator per rank thread; each communicator is used by its rank's
// thread only, the group is shared by all of them.
#pragma once

#include <barrier>
#include <memory>
#include <vector>

#include "engine/communicator.h"

namespace pagoda::cpu {

class CpuCommGroup {
 public:
  explicit CpuCommGroup(int world_size);
  int world_size() const { return world_size_; }

 private:
  friend class CpuCommunicator;
  int world_size_;
  std::barrier<> barrier_;
  std::vector<const void*> published_;  // one slot per rank, written by that rank between barriers
  std::vector<float> scratch_;          // resized by rank 0 only, between barriers
};

class CpuCommunicator final : public Communicator {
 public:
  CpuCommunicator(std::shared_ptr<CpuCommGroup> group, int rank);

  int rank() const override { return rank_; }
  int world_size() const override { return group_->world_size(); }
  void all_reduce_sum(float* data, std::int64_t count) override;
  void all_gather(const float* send, std::int64_t count, float* recv) override;
  void broadcast(void* data, std::int64_t bytes, int root) override;
  void barrier() override;

 private:
  std::shared_ptr<CpuCommGroup> group_;
  int rank_;
};

}  // namespace pagoda::cpu
