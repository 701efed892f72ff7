// TenantFairShare: fair sharing between tenants by virtual token counters
// (VTC, Sheng et al., "Fairness in Serving Large Language Models", OSDI'24).
// Each tenant's counter grows by the weighted tokens served to it; admission
// prefers the tenant with the least counter, so one tenant's burst cannot
// starve the others. Step thread only (owned by the Scheduler).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pagoda {

class TenantFairShare {
 public:
  // Dense index of a tenant, created on first sight. Indices are never reused.
  std::int32_t intern(std::string_view tenant);
  std::int32_t num_tenants() const { return static_cast<std::int32_t>(tenants_.size()); }
  const std::string& name(std::int32_t tenant) const {
    return tenants_[static_cast<std::size_t>(tenant)].name;
  }

  // Virtual tokens served so far (weighted), after lifting.
  double counter(std::int32_t tenant) const { return tenants_[static_cast<std::size_t>(tenant)].counter; }
  void charge(std::int32_t tenant, double virtual_tokens) {
    tenants_[static_cast<std::size_t>(tenant)].counter += virtual_tokens;
  }

  // A tenant's unfinished requests come and go. When a tenant becomes active
  // (0 -> 1 unfinished) its counter is lifted to the least counter among the
  // other active tenants, so time spent idle does not bank credit.
  void add_request(std::int32_t tenant);
  void remove_request(std::int32_t tenant);
  std::int32_t num_unfinished(std::int32_t tenant) const {
    return tenants_[static_cast<std::size_t>(tenant)].num_unfinished;
  }

 private:
  struct Tenant {
    std::string name;
    double counter = 0.0;
    std::int32_t num_unfinished = 0;
  };
  std::vector<Tenant> tenants_;
  std::unordered_map<std::string, std::int32_t> by_name_;
};

}  // namespace pagoda
