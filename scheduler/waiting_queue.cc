#include "scheduler/waiting_queue.h"

namespace pagoda {

void WaitingQueue::push(Request* request) {
  if (levels_[request->priority()][request->tenant_index()].insert(request).second) {
    ++size_;
    num_queued_tokens_ += request->num_tokens();
  }
}

Request* WaitingQueue::peek() const {
  if (levels_.empty()) return nullptr;
  const auto& tenants = levels_.begin()->second;
  const TenantQueue* best = nullptr;
  double best_counter = 0.0;
  for (const auto& [tenant, queue] : tenants) {
    const double c = fair_share_.counter(tenant);
    // Ties go to the earlier arrival, so a single tenant is plain FCFS.
    if (best == nullptr || c < best_counter ||
        (c == best_counter && ByArrival()(*queue.begin(), *best->begin()))) {
      best = &queue;
      best_counter = c;
    }
  }
  return *best->begin();
}

void WaitingQueue::erase(Request* request) {
  auto level = levels_.find(request->priority());
  if (level == levels_.end()) return;
  auto tenant = level->second.find(request->tenant_index());
  if (tenant == level->second.end()) return;
  if (tenant->second.erase(request) == 0) return;
  --size_;
  num_queued_tokens_ -= request->num_tokens();
  if (tenant->second.empty()) level->second.erase(tenant);
  if (level->second.empty()) levels_.erase(level);
}

}  // namespace pagoda
