// OpenAI-shaped HTTP errors: {"error": {"message", "type", "param", "code"}},
// and the mapping from canonical status codes to HTTP statuses. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace pagoda::server {

unsigned http_status_of(StatusCode code);
// The OpenAI error type for an HTTP status ("invalid_request_error", ...).
std::string_view openai_error_type(unsigned http_status);
// The JSON body; `param` names the offending field when known ("" -> null).
std::string openai_error_body(unsigned http_status, std::string_view message, std::string_view param = "");
// The field an error message names ("temperature: must be ..." -> "temperature"), or "".
std::string param_of(const Status& status);

}  // namespace pagoda::server
