#include "server/request_registry.h"

#include "engine/engine.h"

namespace pagoda::server {

Status RequestRegistry::reserve(const std::string& id, const std::string& tenant) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = running_.try_emplace(key(id, tenant));
  if (!inserted) return {StatusCode::kAlreadyExists, "request_id \"" + id + "\" is already running"};
  return ok_status();
}

void RequestRegistry::set_engine_ids(const std::string& id, const std::string& tenant,
                                     std::vector<RequestId> engine_ids) {
  std::lock_guard lock(mu_);
  auto it = running_.find(key(id, tenant));
  if (it != running_.end()) it->second = std::move(engine_ids);
}

void RequestRegistry::release(const std::string& id, const std::string& tenant) {
  std::lock_guard lock(mu_);
  running_.erase(key(id, tenant));
}

StatusOr<int> RequestRegistry::abort(const std::string& id, const std::string& tenant, Engine& engine) {
  std::vector<RequestId> ids;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(key(id, tenant));
    if (it == running_.end()) return not_found("no running request with request_id \"" + id + "\"");
    ids = it->second;
  }
  for (RequestId rid : ids)
    engine.cancel(rid);
  return static_cast<int>(ids.size());
}

std::size_t RequestRegistry::size() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

}  // namespace pagoda::server
