#include "server/api_keys.h"

#include <sstream>

#include "base/mapped_file.h"
#include "base/strings.h"

namespace pagoda::server {
namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 512) return false;
  for (char c : key)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

}  // namespace

Status ApiKeys::add(std::string key, std::string tenant, std::string_view origin) {
  if (!valid_key(key)) {
    return invalid_argument(std::string(origin) + ": API keys must be 1-512 printable ASCII characters");
  }
  if (tenant.empty()) tenant = "key" + std::to_string(tenants_.size());
  tenants_[std::move(key)] = std::move(tenant);
  return ok_status();
}

StatusOr<ApiKeys> ApiKeys::from_file(const std::string& path) {
  PAGODA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  ApiKeys keys;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    std::string key, tenant, extra;
    std::istringstream fields{std::string(t)};
    fields >> key >> tenant >> extra;
    if (!extra.empty())
      return invalid_argument(path + ":" + std::to_string(line_no) + ": expected KEY [TENANT]");
    PAGODA_RETURN_IF_ERROR(keys.add(key, tenant, path + ":" + std::to_string(line_no)));
  }
  if (!keys.enabled()) return invalid_argument(path + ": no API keys in the file");
  return keys;
}

StatusOr<ApiKeys> ApiKeys::from_list(std::string_view list, std::string_view origin) {
  ApiKeys keys;
  for (std::string_view item : split(list, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    std::size_t colon = item.find(':');
    std::string key(trim(item.substr(0, colon)));
    std::string tenant = colon == std::string_view::npos ? "" : std::string(trim(item.substr(colon + 1)));
    PAGODA_RETURN_IF_ERROR(keys.add(key, tenant, origin));
  }
  return keys;
}

std::optional<std::string> ApiKeys::authenticate(std::string_view header) const {
  if (!enabled()) return std::string("default");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size()) return std::nullopt;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {  // the scheme is case-insensitive
    char a = header[i], b = kBearer[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return std::nullopt;
  }
  std::string_view key = trim(header.substr(kBearer.size()));
  const std::string* tenant = nullptr;
  for (const auto& [k, t] : tenants_) {  // no early exit: time does not depend on which key matched
    if (constant_time_equal(k, key)) tenant = &t;
  }
  if (tenant == nullptr) return std::nullopt;
  return *tenant;
}

}  // namespace pagoda::server
