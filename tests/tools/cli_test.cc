// The `pagoda` binary as a user runs it: text commands against the golden
// files, make-model + generate (single and batched), and clear CLI errors.
#include <gtest/gtest.h>

#include "tests/cli_run.h"
#include "tests/test_temp_dir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CliRun pagoda(const std::string& args) {
  return run_cli(PAGODA_BINARY, args);
}

std::string temp_file(const std::string& name, const std::string& contents) {
  std::string path = (fs::path(pagoda_test_temp_dir()) / name).string();
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

const std::string& tiny_model() {
  static const std::string dir = [] {
    std::string d = (fs::path(pagoda_test_temp_dir()) / "pagoda_cli_tiny").string();
    fs::remove_all(d);
    CliRun r = pagoda("make-model --preset tiny --seed 3 --out " + d);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return d;
  }();
  return dir;
}

TEST(CliTest, VersionAndHelp) {
  CliRun v = pagoda("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("commit: "), std::string::npos);
  for (const char* sub : {"generate", "tokenize", "detokenize", "chat-template", "make-model", "info"}) {
    CliRun h = pagoda(std::string(sub) + " --help");
    EXPECT_EQ(h.exit_code, 0) << sub;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(CliTest, TokenizeAndDetokenizeMatchGolden) {
  std::ifstream golden(std::string(PAGODA_SOURCE_DIR) + "/tests/data/tokenizer/golden.jsonl");
  std::string line;
  // The golden set itself is checked in-process (tokenizer_golden_test); here
  // the CLI's plumbing: the first text and the first with non-ASCII bytes (each
  // run loads the 151k-token tokenizer, seconds under ASan).
  int checked = 0;
  while (std::getline(golden, line) && checked < 2) {
    Json g = Json::parse(line);
    if (!g.contains("text") || !g["text"].is_string()) continue;
    const std::string text = g["text"].get<std::string>();
    if (text.find('\0') != std::string::npos || text.empty()) continue;
    const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; });
    if (checked == 1 && ascii) continue;
    CliRun t = pagoda("tokenize --file " + temp_file("cli_tok.txt", text));
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_EQ(Json::parse(t.out), g["ids"]) << text;
    std::string ids;
    for (const Json& id : g["ids"]) {
      if (!ids.empty()) ids += ',';
      ids += std::to_string(id.get<int>());
    }
    CliRun d = pagoda("detokenize --ids " + ids);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out, g["decoded"].get<std::string>() + "\n");
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(CliTest, ChatTemplateMatchesGolden) {
  Json convs =
      Json::parse(std::ifstream(std::string(PAGODA_SOURCE_DIR) + "/tests/data/chat/conversations.json"));
  Json golden = Json::parse(std::ifstream(std::string(PAGODA_SOURCE_DIR) + "/tests/data/chat/golden.json"));
  int checked = 0;
  for (std::size_t i = 0; i < convs.size() && checked < 6; ++i) {
    const Json& c = convs[i];
    if (!golden[i].contains("output") || c.contains("extra_context") || !c.contains("messages")) continue;
    if (c.contains("enable_thinking") && c["enable_thinking"] == true)
      continue;  // the flag only turns it off
    std::string args = "chat-template --messages " + temp_file("cli_msgs.json", c["messages"].dump());
    if (c.contains("tools") && !c["tools"].is_null())
      args += " --tools " + temp_file("cli_tools.json", c["tools"].dump());
    if (c.value("add_generation_prompt", false)) args += " --add-generation-prompt";
    if (c.contains("enable_thinking") && c["enable_thinking"] == false) args += " --no-thinking";
    CliRun r = pagoda(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, golden[i]["output"].get<std::string>()) << c.value("name", "");
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

// --prompts-file runs all prompts as one continuous batch; each line equals
// the same request run alone.
TEST(CliTest, GenerateBatchEqualsSingleRuns) {
  const std::string model = tiny_model();
  std::vector<std::string> prompts = {"Hello there", "The capital of France is", "1, 2, 3,",
                                      "<|im_start|>user\nHi"};
  std::string jsonl;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    jsonl += Json{{"prompt", prompts[i]}, {"seed", 100 + i}, {"max_tokens", 6 + i}}.dump() + "\n";
  }
  CliRun batch =
      pagoda("generate --model " + model + " --temperature 0.9 --ignore-eos --json --prompts-file " +
             temp_file("cli_prompts.jsonl", jsonl));
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  std::istringstream lines(batch.out);
  std::string line;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(std::getline(lines, line));
    Json got = Json::parse(line);
    CliRun single = pagoda("generate --model " + model + " --temperature 0.9 --ignore-eos --json --seed " +
                           std::to_string(100 + i) + " --max-tokens " + std::to_string(6 + i) + " --prompt " +
                           shell_quote(prompts[i]));
    ASSERT_EQ(single.exit_code, 0) << single.err;
    Json want = Json::parse(single.out);
    EXPECT_EQ(got["token_ids"], want["token_ids"]) << prompts[i];
    EXPECT_EQ(got["text"], want["text"]);
    EXPECT_EQ(got["finish_reason"], "length");
    EXPECT_EQ(got["usage"]["completion_tokens"], 6 + i);
  }
}

TEST(CliTest, GenerateWithLogprobsAndGreedy) {
  CliRun r = pagoda("generate --model " + tiny_model() +
                    " --prompt-ids 9707,11,1879 --temperature 0 --max-tokens 4 "
                    "--ignore-eos --json --logprobs 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  ASSERT_EQ(j["token_ids"].size(), 4u);
  ASSERT_EQ(j["top_logprobs"].size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(j["top_logprobs"][i][0]["token_id"], j["token_ids"][i]);
    EXPECT_FLOAT_EQ(j["top_logprobs"][i][0]["logprob"].get<float>(), j["logprobs"][i].get<float>());
  }
}

TEST(CliTest, ClearErrors) {
  CliRun r = pagoda("generate --model /nonexistent/model --prompt hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/model/config.json"), std::string::npos) << r.err;
  r = pagoda("generate --model " + tiny_model() + " --prompt-ids 1,x,3");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--prompt-ids: 'x' is not an integer"), std::string::npos) << r.err;
  r = pagoda("generate --model " + tiny_model() + " --prompt hi --prompt-ids 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("exactly one of"), std::string::npos) << r.err;
  r = pagoda("generate --model " + tiny_model() + " --prompt hi --tp 3");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tensor parallel size 3 cannot split this model"), std::string::npos) << r.err;
  r = pagoda("detokenize --ids 5,99999999");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
  r = pagoda("chat-template --messages " + temp_file("bad.json", "{not json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
  r = pagoda("make-model --preset nope --out /tmp/x");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown model preset 'nope'"), std::string::npos) << r.err;
}

}  // namespace
