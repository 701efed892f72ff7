// ApiKeys: the table of accepted API keys and the tenant each maps to, loaded
// once at start-up (from a file or an environment variable) and read-only
// afterwards, so any thread may authenticate against it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace pagoda::server {

class ApiKeys {
 public:
  // File: one key per line, "KEY" or "KEY TENANT"; blank lines and '#' comments skipped.
  static StatusOr<ApiKeys> from_file(const std::string& path);
  // "KEY[:TENANT],KEY[:TENANT],...".
  static StatusOr<ApiKeys> from_list(std::string_view list, std::string_view origin);

  bool enabled() const { return !tenants_.empty(); }
  std::size_t size() const { return tenants_.size(); }

  // The tenant of an `Authorization` value ("Bearer KEY"); nullopt when the
  // header is missing, malformed or the key is unknown. With no keys configured
  // every caller is the tenant "default". Compares in constant time per key.
  std::optional<std::string> authenticate(std::string_view authorization_header) const;

 private:
  Status add(std::string key, std::string tenant, std::string_view origin);
  std::unordered_map<std::string, std::string> tenants_;  // key -> tenant
};

}  // namespace pagoda::server
