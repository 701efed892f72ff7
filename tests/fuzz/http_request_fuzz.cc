// Fuzzes what the HTTP front end does with raw bytes before and as a handler
// starts: Boost.Beast's request parser configured as HttpSession configures it
// (apply_request_limits with the default limits), read with http::read from an
// in-memory stream that hands the bytes over in chunks (a keep-alive
// connection: up to 8 pipelined requests from one buffer, as the session
// reads them), the session's reply to bytes that do not parse
// (read_error_reply), then route_request (route, method, API key, readiness,
// JSON body) and the route's body parser (chat, completions, tokenize,
// detokenize) — everything but the sockets and the engine.
// Byte 0: bits 0-5 chunk size (0: all at once), bit 6: a server with API keys.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <nlohmann/json.hpp>

#include "server/http_request.h"
#include "server/openai_request.h"
#include "tests/fuzz/fuzz_serving_context.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using pagoda::fuzz::check;
using pagoda::server::HttpRoute;

// A SyncReadStream over the input: at most `chunk` bytes per read, then EOF.
class MemoryStream {
 public:
  MemoryStream(const std::uint8_t* data, std::size_t size, std::size_t chunk)
      : data_(data), size_(size), chunk_(chunk == 0 ? size : chunk) {}

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
    ec = {};
    if (pos_ == size_) {
      ec = net::error::eof;
      return 0;
    }
    std::size_t budget = std::min(chunk_, size_ - pos_);
    std::size_t copied = 0;
    for (net::mutable_buffer b : beast::buffers_range_ref(buffers)) {
      std::size_t n = std::min(b.size(), budget - copied);
      std::memcpy(b.data(), data_ + pos_ + copied, n);
      copied += n;
      if (copied == budget) break;
    }
    pos_ += copied;
    return copied;
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

bool is_json(const std::string& text) {
  return !nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false).is_discarded();
}

}  // namespace

// Loads the tokenizer and template before fuzzing starts (seconds under
// ASan), so that time never counts against the first input's -timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)pagoda::fuzz::open_context();
  (void)pagoda::fuzz::keyed_context();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = data[0] & 63;
  pagoda::server::ServingContext& ctx =
      (data[0] & 64) != 0 ? pagoda::fuzz::keyed_context() : pagoda::fuzz::open_context();
  MemoryStream stream(data + 1, size - 1, chunk);
  beast::flat_buffer buffer;
  for (int i = 0; i < 8; ++i) {
    std::optional<pagoda::server::HttpRequestParser> parser;
    parser.emplace();
    pagoda::server::apply_request_limits(*parser, ctx.limits());
    beast::error_code ec;
    http::read(stream, buffer, *parser, ec);
    // The session closes on these without a reply.
    if (ec == http::error::end_of_stream || ec == net::error::eof) break;
    if (ec) {
      pagoda::server::HttpReply reply = pagoda::server::read_error_reply(ec, ctx.limits());
      check(reply.status == 400 || reply.status == 413 || reply.status == 431, "read error status");
      check(is_json(reply.body), "read error body is JSON");
      break;  // the session rejects and closes
    }
    pagoda::server::HttpRequest request = parser->release();
    pagoda::server::RoutedRequest routed = pagoda::server::route_request(request, ctx);
    if (routed.reply) {
      check(routed.reply->status >= 200 && routed.reply->status < 600, "reply status");
      check(is_json(routed.reply->body), "reply body is JSON");
    } else {
      check(!routed.tenant.empty(), "a routed request is authenticated");
      switch (routed.route) {
        case HttpRoute::kChat:
          (void)pagoda::server::parse_chat_completion_request(routed.body, ctx);
          break;
        case HttpRoute::kCompletions:
          (void)pagoda::server::parse_completion_request(routed.body, ctx);
          break;
        case HttpRoute::kTokenize:
          if (auto out = pagoda::server::tokenize_json(routed.body, ctx); out.ok()) (void)out->dump();
          break;
        case HttpRoute::kDetokenize:
          if (auto out = pagoda::server::detokenize_json(routed.body, ctx); out.ok()) {
            (void)out->dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
          }
          break;
        case HttpRoute::kModels:
          break;
        case HttpRoute::kNone:
          check(false, "a request without a reply has a route");
      }
    }
    if (!request.keep_alive()) break;
  }
  return 0;
}
