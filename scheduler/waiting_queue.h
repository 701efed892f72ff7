// WaitingQueue: requests waiting for admission (new and preempted), in the
// order the scheduler admits them: priority first (lower value first), then
// across tenants by least virtual token counter (TenantFairShare), then by
// arrival. Holds pointers; the Scheduler owns the requests. Step thread only.
#pragma once

#include <cstdint>
#include <map>
#include <set>

#include "scheduler/request.h"
#include "scheduler/tenant_fair_share.h"

namespace pagoda {

class WaitingQueue {
 public:
  explicit WaitingQueue(const TenantFairShare& fair_share) : fair_share_(fair_share) {}

  void push(Request* request);
  // The next request to admit, or nullptr. O(tenants at the best priority).
  Request* peek() const;
  // Removes a queued request (admitted, aborted, shed).
  void erase(Request* request);

  bool empty() const { return size_ == 0; }
  std::int32_t size() const { return size_; }
  // Sum of tokens the queued requests must compute (prompt + outputs so far).
  std::int64_t num_queued_tokens() const { return num_queued_tokens_; }

 private:
  struct ByArrival {
    bool operator()(const Request* a, const Request* b) const {
      if (a->arrival_time_ms() != b->arrival_time_ms()) return a->arrival_time_ms() < b->arrival_time_ms();
      return a->id() < b->id();
    }
  };
  using TenantQueue = std::set<Request*, ByArrival>;
  // priority -> tenant index -> requests by arrival. Empty inner containers are removed.
  std::map<std::int32_t, std::map<std::int32_t, TenantQueue>> levels_;
  const TenantFairShare& fair_share_;
  std::int32_t size_ = 0;
  std::int64_t num_queued_tokens_ = 0;
};

}  // namespace pagoda
