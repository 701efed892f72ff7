// The OpenAI-compatible HTTP front end against a real server on 127.0.0.1
// port 0: chat and completions (streaming and not), utility routes, a table of
// malformed and hostile requests, and client disconnects.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/socket.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/server/server_test_util.h"

namespace pagoda::server::testing {
namespace {

using Json = nlohmann::json;

class HttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = start_server(test_options()).release();
    ASSERT_NE(server_, nullptr);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }
  void TearDown() override { EXPECT_TRUE(wait_all_blocks_free(*server_)); }
  static HttpResponse post(const std::string& target, const std::string& body) {
    return http_request(server_->http_port(), "POST", target, body);
  }
  static Server* server_;
};

Server* HttpApiTest::server_ = nullptr;

TEST_F(HttpApiTest, ChatCompletionNonStreaming) {
  HttpResponse r =
      post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"Hi"}],
      "max_tokens":6,"temperature":0,"logprobs":true,"top_logprobs":3,
      "chat_template_kwargs":{"enable_thinking":false}})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(j["choices"][0]["finish_reason"] == "length" || j["choices"][0]["finish_reason"] == "stop");
  EXPECT_LE(j["usage"]["completion_tokens"].get<int>(), 6);
  EXPECT_EQ(j["usage"]["total_tokens"],
            j["usage"]["prompt_tokens"].get<int>() + j["usage"]["completion_tokens"].get<int>());
  auto& lp = j["choices"][0]["logprobs"]["content"];
  EXPECT_EQ(lp.size(), j["usage"]["completion_tokens"].get<std::size_t>());
  EXPECT_EQ(lp[0]["top_logprobs"].size(), 3u);
}

TEST_F(HttpApiTest, ChatCompletionStreamingWithUsage) {
  HttpResponse r =
      post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":8,
      "seed":3,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true},"n":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  std::vector<std::string> events = sse_events(r.body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  Json usage = Json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 16);
  int finishes = 0;
  std::string reasoning_or_content[2];
  for (std::size_t i = 0; i + 2 < events.size(); ++i) {
    Json c = Json::parse(events[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    for (auto& ch : c["choices"]) {
      if (!ch["finish_reason"].is_null()) ++finishes;
      int idx = ch["index"];
      if (ch["delta"].contains("content"))
        reasoning_or_content[idx] += ch["delta"]["content"].get<std::string>();
      if (ch["delta"].contains("reasoning_content"))
        reasoning_or_content[idx] += ch["delta"]["reasoning_content"].get<std::string>();
    }
  }
  EXPECT_EQ(finishes, 2);
  EXPECT_FALSE(reasoning_or_content[0].empty());
}

TEST_F(HttpApiTest, CompletionsStreamingMatchesNonStreaming) {
  std::string body =
      R"({"prompt":"Once upon a time","max_tokens":10,"seed":11,"temperature":0.9,"ignore_eos":true)";
  HttpResponse once = post("/v1/completions", body + "}");
  ASSERT_EQ(once.status, 200) << once.body;
  Json j = Json::parse(once.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["usage"]["completion_tokens"], 10);
  HttpResponse streamed = post("/v1/completions", body + R"(,"stream":true})");
  ASSERT_EQ(streamed.status, 200);
  std::string text;
  for (const std::string& e : sse_events(streamed.body)) {
    if (e == "[DONE]") break;
    text += Json::parse(e)["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, j["choices"][0]["text"].get<std::string>());
}

TEST_F(HttpApiTest, CompletionsBatchOfTokenPromptsAndLogprobs) {
  HttpResponse r = post("/v1/completions",
                        R"({"prompt":[[1,2,3],[4,5]],"max_tokens":3,"n":2,"logprobs":2,"temperature":0})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  ASSERT_EQ(j["choices"].size(), 4u);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["choices"][3]["logprobs"]["top_logprobs"][0].size(), 2u);
}

TEST_F(HttpApiTest, StopStringEndsOutput) {
  HttpResponse first =
      post("/v1/completions", R"({"prompt":"Hello","max_tokens":8,"temperature":0,"ignore_eos":true})");
  ASSERT_EQ(first.status, 200);
  std::string text = Json::parse(first.body)["choices"][0]["text"];
  ASSERT_GE(text.size(), 4u);
  std::string stop = text.substr(2, 2);
  HttpResponse r = post(
      "/v1/completions",
      Json{{"prompt", "Hello"}, {"max_tokens", 8}, {"temperature", 0}, {"ignore_eos", true}, {"stop", stop}}
          .dump());
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["stop_reason"], stop);
  EXPECT_EQ(j["choices"][0]["text"].get<std::string>().find(stop), std::string::npos);
}

TEST_F(HttpApiTest, ModelsTokenizeDetokenizeHealth) {
  HttpResponse m = http_request(server_->http_port(), "GET", "/v1/models");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(Json::parse(m.body)["data"][0]["id"], "tiny");
  HttpResponse t = post("/tokenize", R"({"prompt":"Hello world"})");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(Json::parse(t.body)["tokens"], Json::array({9707, 1879}));
  HttpResponse d = post("/detokenize", R"({"tokens":[9707,1879]})");
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(Json::parse(d.body)["prompt"], "Hello world");
  HttpResponse chat_tok = post("/tokenize", R"({"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(chat_tok.status, 200);
  EXPECT_GT(Json::parse(chat_tok.body)["count"].get<int>(), 3);
  EXPECT_EQ(http_request(server_->http_port(), "GET", "/health").status, 200);
}

TEST_F(HttpApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::string one = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string raw = raw_http(server_->http_port(),
                             one + one + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t count = 0, pos = 0;
  while ((pos = raw.find("HTTP/1.1 200", pos)) != std::string::npos) {
    ++count;
    ++pos;
  }
  EXPECT_EQ(count, 3u);
}

TEST_F(HttpApiTest, ClientDisconnectFreesEveryBlock) {
  for (bool stream : {true, false}) {
    int fd = connect_to(server_->http_port());
    ASSERT_GE(fd, 0);
    std::string body = Json{
        {"prompt", "Tell me a story"},
        {"max_tokens", 3000},
        {"ignore_eos", true},
        {"stream", stream}}.dump();
    std::string req =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    // Wait until the request is running, then leave.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server_->engine().stats().num_running == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(server_->engine().stats().num_running, 1);
    ::close(fd);
    EXPECT_TRUE(wait_all_blocks_free(*server_, std::chrono::seconds(5))) << "stream=" << stream;
  }
}

struct BadRequest {
  const char* name;
  std::string raw;  // full HTTP request bytes
  int status;
};

std::string post_json(const std::string& target, const std::string& body,
                      const std::string& extra_headers = "") {
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}
std::string chat(const std::string& extra) {
  return post_json("/v1/chat/completions",
                   R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":2)" + extra + "}");
}
std::string completion(const std::string& extra) {
  return post_json("/v1/completions", R"({"prompt":"Hi","max_tokens":2)" + extra + "}");
}

TEST_F(HttpApiTest, MalformedAndHostileRequestsTable) {
  std::string deep(100, '[');
  std::vector<BadRequest> cases = {
      {"not json", post_json("/v1/completions", "{nope"), 400},
      {"json array body", post_json("/v1/completions", "[1,2]"), 400},
      {"empty body", post_json("/v1/completions", ""), 400},
      {"deep nesting", post_json("/v1/completions", "{\"prompt\":" + deep), 400},
      {"invalid utf8 in json", post_json("/v1/completions", "{\"prompt\":\"\xff\xfe\"}"), 400},
      {"missing prompt", post_json("/v1/completions", R"({"max_tokens":2})"), 400},
      {"prompt wrong type", post_json("/v1/completions", R"({"prompt":12})"), 400},
      {"prompt empty string", post_json("/v1/completions", R"({"prompt":""})"), 400},
      {"prompt empty array", post_json("/v1/completions", R"({"prompt":[]})"), 400},
      {"token id out of vocab", post_json("/v1/completions", R"({"prompt":[1,999999999]})"), 400},
      {"negative token id", post_json("/v1/completions", R"({"prompt":[-1]})"), 400},
      {"too many prompts",
       post_json(
           "/v1/completions", "{\"prompt\":[" +
                                  [] {
                                    std::string s;
                                    for (int i = 0; i < 65; ++i)
                                      s += std::string(i ? "," : "") + "\"a\"";
                                    return s;
                                  }() +
                                  "]}"),
       400},
      {"max_tokens zero", completion(R"(,"max_tokens":0)"), 400},
      {"max_tokens negative", completion(R"(,"max_tokens":-5)"), 400},
      {"max_tokens string", completion(R"(,"max_tokens":"5")"), 400},
      {"max_tokens past context", completion(R"(,"max_tokens":5000)"), 400},
      {"max_tokens huge", completion(R"(,"max_tokens":99999999999999)"), 400},
      {"temperature negative", completion(R"(,"temperature":-0.5)"), 400},
      {"temperature string", completion(R"(,"temperature":"hot")"), 400},
      {"temperature too high", completion(R"(,"temperature":1000)"), 400},
      {"top_p zero", completion(R"(,"top_p":0)"), 400},
      {"top_p above one", completion(R"(,"top_p":1.5)"), 400},
      {"top_k below -1", completion(R"(,"top_k":-7)"), 400},
      {"min_p above one", completion(R"(,"min_p":2)"), 400},
      {"presence penalty range", completion(R"(,"presence_penalty":3)"), 400},
      {"frequency penalty range", completion(R"(,"frequency_penalty":-3)"), 400},
      {"n zero", completion(R"(,"n":0)"), 400},
      {"n too many", completion(R"(,"n":1000)"), 400},
      {"best_of differs", completion(R"(,"n":1,"best_of":3)"), 400},
      {"logprobs too many", completion(R"(,"logprobs":50)"), 400},
      {"top_logprobs too many", chat(R"(,"logprobs":true,"top_logprobs":21)"), 400},
      {"top_logprobs without logprobs", chat(R"(,"top_logprobs":2)"), 400},
      {"stop wrong type", completion(R"(,"stop":5)"), 400},
      {"stop empty string", completion(R"(,"stop":[""])"), 400},
      {"too many stops",
       completion(R"(,"stop":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"])"), 400},
      {"stop too long", completion(",\"stop\":[\"" + std::string(300, 'x') + "\"]"), 400},
      {"logit_bias bad key", completion(R"(,"logit_bias":{"abc":1})"), 400},
      {"logit_bias signed key", completion(R"(,"logit_bias":{"+5":1})"), 400},
      {"logit_bias key with a space", completion(R"(,"logit_bias":{" 5":1})"), 400},
      {"logit_bias out of vocab", completion(R"(,"logit_bias":{"999999999":1})"), 400},
      {"logit_bias bias range", completion(R"(,"logit_bias":{"5":500})"), 400},
      {"min_tokens above max", completion(R"(,"min_tokens":10)"), 400},
      {"stream_options without stream", completion(R"(,"stream_options":{"include_usage":true})"), 400},
      {"echo unsupported", completion(R"(,"echo":true)"), 400},
      {"seed wrong type", completion(R"(,"seed":"x")"), 400},
      {"messages missing", post_json("/v1/chat/completions", R"({"max_tokens":2})"), 400},
      {"messages empty", post_json("/v1/chat/completions", R"({"messages":[]})"), 400},
      {"message not object", post_json("/v1/chat/completions", R"({"messages":["hi"]})"), 400},
      {"message bad role",
       post_json("/v1/chat/completions", R"({"messages":[{"role":"wizard","content":"x"}]})"), 400},
      {"message content number",
       post_json("/v1/chat/completions", R"({"messages":[{"role":"user","content":5}]})"), 400},
      {"tools not array", chat(R"(,"tools":{"a":1})"), 400},
      {"tool malformed", chat(R"(,"tools":[{"type":"function"}])"), 400},
      // A non-string "type" once threw out of the parser and ended the server.
      {"tool type a number", chat(R"(,"tools":[{"type":5,"function":{"name":"f"}}])"), 400},
      {"tool_choice required", chat(R"(,"tool_choice":"required")"), 400},
      {"enable_thinking wrong type", chat(R"(,"chat_template_kwargs":{"enable_thinking":"yes"})"), 400},
      {"template kwarg overrides messages", chat(R"(,"chat_template_kwargs":{"messages":[]})"), 400},
      {"response_format json", chat(R"(,"response_format":{"type":"json_object"})"), 400},
      {"detokenize bad ids", post_json("/detokenize", R"({"tokens":[1,"a"]})"), 400},
      {"unknown route", post_json("/v1/nothing", "{}"), 404},
      {"path traversal", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404},
      {"wrong method on chat", "GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
       405},
      {"wrong method on models", post_json("/v1/models", "{}"), 405},
      {"body too large", "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n{",
       413},
      {"headers too large",
       "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431},
      {"garbage request line", "HELLO\r\n\r\n", 400},
      {"bad content length", "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
  };
  ASSERT_GE(cases.size(), 40u);
  for (const BadRequest& c : cases) {
    std::string raw = raw_http(server_->http_port(), c.raw);
    EXPECT_EQ(status_of(raw), c.status) << c.name << ": " << raw.substr(0, 300);
    if (c.status != 413 && c.status != 431 && c.status != 400) continue;
    std::size_t body = raw.find("\r\n\r\n");
    if (body == std::string::npos) continue;
    Json j = Json::parse(raw.substr(body + 4), nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].contains("message") &&
                j["error"].contains("type") && j["error"].contains("param") && j["error"].contains("code"))
        << c.name << ": " << raw.substr(body + 4, 200);
  }
  // The server is still healthy and serving.
  EXPECT_EQ(http_request(server_->http_port(), "GET", "/health").status, 200);
  EXPECT_EQ(post("/v1/completions", R"({"prompt":"Hi","max_tokens":2})").status, 200);
}

TEST_F(HttpApiTest, ParamNamesTheField) {
  HttpResponse r = post("/v1/completions", R"({"prompt":"Hi","temperature":-1})");
  ASSERT_EQ(r.status, 400);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["error"]["param"], "temperature");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["code"], 400);
}

}  // namespace
}  // namespace pagoda::server::testing
