// RequestRegistry: the front-end request ids (client-chosen or assigned) of
// running generations, the tenant that owns each and its engine request ids,
// so Abort(request_id) can find them. Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "scheduler/step_plan.h"

namespace pagoda {
class Engine;
}

namespace pagoda::server {

class RequestRegistry {
 public:
  // Claims `id` for `tenant`; ALREADY_EXISTS when that tenant already runs a request with this id.
  Status reserve(const std::string& id, const std::string& tenant);
  // Records the engine ids of a reserved request (called after submission).
  void set_engine_ids(const std::string& id, const std::string& tenant, std::vector<RequestId> engine_ids);
  void release(const std::string& id, const std::string& tenant);
  // Cancels the request's engine requests; NOT_FOUND when this tenant has no such request.
  StatusOr<int> abort(const std::string& id, const std::string& tenant, Engine& engine);
  std::size_t size() const;

 private:
  static std::string key(const std::string& id, const std::string& tenant) { return tenant + '\n' + id; }
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<RequestId>> running_;
};

}  // namespace pagoda::server
