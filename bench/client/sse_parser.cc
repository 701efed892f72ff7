#include "bench/client/sse_parser.h"

namespace pagoda::bench {

std::vector<std::string> SseParser::feed(std::string_view bytes) {
  std::vector<std::string> out;
  for (char c : bytes) {
    if (c != '\n') {
      line_.push_back(c);
      continue;
    }
    std::string_view line(line_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(line, out);
    line_.clear();
  }
  return out;
}

void SseParser::on_line(std::string_view line, std::vector<std::string>& out) {
  if (line.empty()) {  // blank line: the event is complete
    if (has_data_) out.push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment
  std::string_view field = line.substr(0, line.find(':'));
  std::string_view value = field.size() < line.size() ? line.substr(field.size() + 1) : std::string_view();
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

}  // namespace pagoda::bench
