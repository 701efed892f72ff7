#include "engine/cpu/cpu_communicator.h"

#include <algorithm>
#include <cstring>

namespace pagoda::cpu {

CpuCommGroup::CpuCommGroup(int world_size)
    : world_size_(world_size),
      barrier_(world_size),
      published_(static_cast<std::size_t>(world_size), nullptr) {}

CpuCommunicator::CpuCommunicator(std::shared_ptr<CpuCommGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

void CpuCommunicator::barrier() {
  group_->barrier_.arrive_and_wait();
}

void CpuCommunicator::all_reduce_sum(float* data, std::int64_t count) {
  CpuCommGroup& g = *group_;
  if (g.world_size_ == 1) return;
  g.published_[static_cast<std::size_t>(rank_)] = data;
  if (rank_ == 0 && static_cast<std::int64_t>(g.scratch_.size()) < count)
    g.scratch_.resize(static_cast<std::size_t>(count));
  g.barrier_.arrive_and_wait();
  // Each rank sums one slice, always adding ranks in order 0, 1, 2, ...
  const std::int64_t per = (count + g.world_size_ - 1) / g.world_size_;
  const std::int64_t begin = std::min(count, per * rank_);
  const std::int64_t end = std::min(count, begin + per);
  for (std::int64_t i = begin; i < end; ++i) {
    float s = static_cast<const float*>(g.published_[0])[i];
    for (int r = 1; r < g.world_size_; ++r)
      s += static_cast<const float*>(g.published_[static_cast<std::size_t>(r)])[i];
    g.scratch_[static_cast<std::size_t>(i)] = s;
  }
  g.barrier_.arrive_and_wait();
  std::memcpy(data, g.scratch_.data(), static_cast<std::size_t>(count) * sizeof(float));
  g.barrier_.arrive_and_wait();  // scratch may be reused once everyone has copied
}

void CpuCommunicator::all_gather(const float* send, std::int64_t count, float* recv) {
  CpuCommGroup& g = *group_;
  g.published_[static_cast<std::size_t>(rank_)] = send;
  g.barrier_.arrive_and_wait();
  for (int r = 0; r < g.world_size_; ++r) {
    std::memcpy(recv + r * count, g.published_[static_cast<std::size_t>(r)],
                static_cast<std::size_t>(count) * sizeof(float));
  }
  g.barrier_.arrive_and_wait();
}

void CpuCommunicator::broadcast(void* data, std::int64_t bytes, int root) {
  CpuCommGroup& g = *group_;
  if (rank_ == root) g.published_[static_cast<std::size_t>(root)] = data;
  g.barrier_.arrive_and_wait();
  if (rank_ != root)
    std::memcpy(data, g.published_[static_cast<std::size_t>(root)], static_cast<std::size_t>(bytes));
  g.barrier_.arrive_and_wait();
}

}  // namespace pagoda::cpu
