// SseParser: splits a text/event-stream body, fed in arbitrary pieces, into
// the `data` payloads of its events (multi-line data joined with '\n'; CRLF or
// LF line ends; comments and other fields ignored). One owner thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pagoda::bench {

class SseParser {
 public:
  // Appends bytes; returns the data of every event completed by them, in order.
  std::vector<std::string> feed(std::string_view bytes);
  // Bytes held for an unfinished line or event (to bound memory on bad input).
  std::size_t pending_bytes() const { return line_.size() + data_.size(); }

 private:
  void on_line(std::string_view line, std::vector<std::string>& out);
  std::string line_;  // the unfinished line
  std::string data_;  // the current event's data so far
  bool has_data_ = false;
};

}  // namespace pagoda::bench
