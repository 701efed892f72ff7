#include "scheduler/tenant_fair_share.h"

#include <limits>

namespace pagoda {

std::int32_t TenantFairShare::intern(std::string_view tenant) {
  auto it = by_name_.find(std::string(tenant));
  if (it != by_name_.end()) return it->second;
  const auto index = static_cast<std::int32_t>(tenants_.size());
  tenants_.push_back(Tenant{std::string(tenant), 0.0, 0});
  by_name_.emplace(std::string(tenant), index);
  return index;
}

void TenantFairShare::add_request(std::int32_t tenant) {
  Tenant& t = tenants_[static_cast<std::size_t>(tenant)];
  if (t.num_unfinished++ > 0) return;
  double least = std::numeric_limits<double>::infinity();
  for (const Tenant& other : tenants_) {
    if (&other != &t && other.num_unfinished > 0 && other.counter < least) least = other.counter;
  }
  if (least != std::numeric_limits<double>::infinity() && least > t.counter) t.counter = least;
}

void TenantFairShare::remove_request(std::int32_t tenant) {
  Tenant& t = tenants_[static_cast<std::size_t>(tenant)];
  if (t.num_unfinished > 0) --t.num_unfinished;
}

}  // namespace pagoda
