// Small string helpers shared by parsers and the command line. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pagoda {

// Splits on `sep`, keeping empty pieces.
std::vector<std::string_view> split(std::string_view s, char sep);

std::string_view trim(std::string_view s);

// Parses "1,2, 3" into integers; `what` names the input in errors.
StatusOr<std::vector<std::int32_t>> parse_int_list(std::string_view s, std::string_view what);

// Renders ids as a JSON array without spaces: [1,2,3].
std::string ids_to_json(const std::vector<std::int32_t>& ids);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace pagoda
