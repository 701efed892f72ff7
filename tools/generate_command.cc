// `pagoda generate`: offline generation in-process, without a server — one
// prompt, or a JSONL file of prompts run together as one continuous batch.
#include <CLI/CLI.hpp>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "tools/command.h"
#include "tools/model_loader.h"

namespace pagoda::tools {
namespace {

using Json = nlohmann::ordered_json;

struct GenerateFlags {
  EngineFlags engine;
  std::string prompt, prompt_ids, chat, prompts_file;
  bool no_thinking = false;
  bool json = false;
  // Sampling (applied only when given; else generation_config.json's defaults).
  int max_tokens = 64;
  double temperature = 1.0, top_p = 1.0, min_p = 0.0;
  int top_k = 0;
  double repetition_penalty = 1.0, presence_penalty = 0.0, frequency_penalty = 0.0;
  std::uint64_t seed = 0;
  std::vector<std::string> stop;
  std::string stop_token_ids;
  bool ignore_eos = false;
  int min_tokens = 0;
  int logprobs = -1;
};

// Defaults: the checkpoint's generation_config.json, then the flags given.
SamplingParams base_sampling(const GenerateFlags& f, const CLI::App& cmd, const ModelConfig& mc) {
  SamplingParams sp = mc.generation.sampling();
  auto given = [&](const char* name) { return cmd.count(name) > 0; };
  sp.max_tokens = f.max_tokens;
  if (given("--temperature")) sp.temperature = f.temperature;
  if (given("--top-p")) sp.top_p = f.top_p;
  if (given("--top-k")) sp.top_k = f.top_k;
  if (given("--min-p")) sp.min_p = f.min_p;
  if (given("--repetition-penalty")) sp.repetition_penalty = f.repetition_penalty;
  sp.presence_penalty = f.presence_penalty;
  sp.frequency_penalty = f.frequency_penalty;
  if (given("--seed")) sp.seed = f.seed;
  sp.stop = f.stop;
  if (!f.stop_token_ids.empty()) {
    auto ids = parse_int_list(f.stop_token_ids, "--stop-token-ids");
    if (!ids.ok()) fail_command("generate", ids.status().message(), 2);
    sp.stop_token_ids = *ids;
  }
  sp.ignore_eos = f.ignore_eos;
  sp.min_tokens = f.min_tokens;
  sp.logprobs = f.logprobs;
  return sp;
}

// Per-request overrides from a --prompts-file line.
Status apply_json_sampling(const Json& j, SamplingParams& sp) {
  try {
    if (j.contains("max_tokens")) sp.max_tokens = j["max_tokens"].get<std::int32_t>();
    if (j.contains("temperature")) sp.temperature = j["temperature"].get<double>();
    if (j.contains("top_p")) sp.top_p = j["top_p"].get<double>();
    if (j.contains("top_k")) sp.top_k = j["top_k"].get<std::int32_t>();
    if (j.contains("min_p")) sp.min_p = j["min_p"].get<double>();
    if (j.contains("repetition_penalty")) sp.repetition_penalty = j["repetition_penalty"].get<double>();
    if (j.contains("presence_penalty")) sp.presence_penalty = j["presence_penalty"].get<double>();
    if (j.contains("frequency_penalty")) sp.frequency_penalty = j["frequency_penalty"].get<double>();
    if (j.contains("seed")) sp.seed = j["seed"].get<std::uint64_t>();
    if (j.contains("stop"))
      sp.stop = j["stop"].is_string() ? std::vector<std::string>{j["stop"].get<std::string>()}
                                      : j["stop"].get<std::vector<std::string>>();
    if (j.contains("stop_token_ids"))
      sp.stop_token_ids = j["stop_token_ids"].get<std::vector<std::int32_t>>();
    if (j.contains("ignore_eos")) sp.ignore_eos = j["ignore_eos"].get<bool>();
    if (j.contains("min_tokens")) sp.min_tokens = j["min_tokens"].get<std::int32_t>();
    if (j.contains("logprobs")) sp.logprobs = j["logprobs"].get<std::int32_t>();
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("bad sampling field: ") + e.what());
  }
  return ok_status();
}

// Everything one request produced, accumulated from its StreamEvents.
struct Collected {
  std::vector<std::int32_t> token_ids;
  std::string text;
  std::vector<TokenLogprobs> logprobs;
  StreamEvent last;
  bool done = false;
};

Json to_json(const Collected& c, bool with_logprobs) {
  Json j;
  j["token_ids"] = c.token_ids;
  j["text"] = c.text;
  if (with_logprobs) {
    Json lp = Json::array(), top = Json::array();
    for (const TokenLogprobs& t : c.logprobs) {
      lp.push_back(t.logprob);
      Json alts = Json::array();
      for (const TokenLogprob& a : t.top)
        alts.push_back({{"token_id", a.token_id}, {"logprob", a.logprob}});
      top.push_back(alts);
    }
    j["logprobs"] = lp;
    j["top_logprobs"] = top;
  }
  j["finish_reason"] = std::string(finish_reason_name(c.last.finish_reason));
  if (!c.last.matched_stop.empty()) j["stop"] = c.last.matched_stop;
  if (!c.last.error.ok()) j["error"] = c.last.error.message();
  j["usage"] = {{"prompt_tokens", c.last.usage.prompt_tokens},
                {"completion_tokens", c.last.usage.completion_tokens},
                {"cached_prompt_tokens", c.last.usage.cached_prompt_tokens}};
  const Timings& t = c.last.timings;
  double decode_ms = t.e2e_ms - t.time_to_first_token_ms;
  j["timings"] = {
      {"queue_ms", t.queue_ms},
      {"ttft_ms", t.time_to_first_token_ms},
      {"e2e_ms", t.e2e_ms},
      {"decode_tokens_per_s", c.token_ids.size() > 1 && decode_ms > 0
                                  ? (static_cast<double>(c.token_ids.size()) - 1) * 1000.0 / decode_ms
                                  : 0.0}};
  return j;
}

void run(const GenerateFlags& f, const CLI::App& cmd) {
  const int inputs = (!f.prompt.empty() || cmd.count("--prompt") > 0) + !f.prompt_ids.empty() +
                     !f.chat.empty() + !f.prompts_file.empty();
  if (inputs != 1)
    fail_command("generate", "give exactly one of --prompt, --prompt-ids, --chat, --prompts-file", 2);
  auto loaded = load_engine_from_flags(f.engine);
  if (!loaded.ok()) fail_command("generate", loaded.status().message());
  LoadedEngine& le = *loaded;
  // The GPU's memory plan is worth seeing; the CPU backend stays quiet.
  if (le.backend_report.rfind("backend cuda", 0) == 0)
    std::fprintf(stderr, "pagoda: %s", le.backend_report.c_str());
  const SamplingParams base = base_sampling(f, cmd, le.config);

  std::vector<EngineRequest> requests;
  auto from_text = [&](const std::string& text) {
    return le.tokenizer->encode(text, /*parse_special=*/true);
  };
  if (!f.prompts_file.empty()) {
    std::ifstream in(f.prompts_file);
    if (!in) fail_command("generate", "--prompts-file: cannot open " + f.prompts_file, 2);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (trim(line).empty()) continue;
      const std::string where = f.prompts_file + ":" + std::to_string(n) + ": ";
      Json j = Json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) fail_command("generate", where + "not a JSON object", 2);
      EngineRequest r;
      r.sampling = base;
      if (j.contains("prompt") && j["prompt"].is_string()) {
        r.prompt_token_ids = from_text(j["prompt"].get<std::string>());
      } else if (j.contains("prompt_ids") && j["prompt_ids"].is_array()) {
        for (const Json& x : j["prompt_ids"]) {
          if (!x.is_number_integer()) fail_command("generate", where + "prompt_ids must be integers", 2);
          r.prompt_token_ids.push_back(x.get<std::int32_t>());
        }
      } else {
        fail_command("generate", where + "needs \"prompt\" (string) or \"prompt_ids\" (array)", 2);
      }
      if (Status s = apply_json_sampling(j, r.sampling); !s.ok())
        fail_command("generate", where + s.message(), 2);
      requests.push_back(std::move(r));
    }
  } else {
    EngineRequest r;
    r.sampling = base;
    if (!f.prompt_ids.empty()) {
      auto ids = parse_int_list(f.prompt_ids, "--prompt-ids");
      if (!ids.ok()) fail_command("generate", ids.status().message(), 2);
      r.prompt_token_ids = *ids;
    } else if (!f.chat.empty()) {
      if (!le.chat_template)
        fail_command("generate", "--chat: the model has no chat template in tokenizer_config.json", 2);
      auto text = read_file(f.chat);
      if (!text.ok()) fail_command("generate", "--chat: " + text.status().message(), 2);
      Json doc = Json::parse(*text, nullptr, false);
      if (doc.is_discarded()) fail_command("generate", "--chat: " + f.chat + " is not valid JSON", 2);
      Json messages = doc.is_object() ? doc.value("messages", Json()) : doc;
      Json tools = doc.is_object() ? doc.value("tools", Json()) : Json();
      ChatTemplateOptions o;
      o.add_generation_prompt = true;
      if (f.no_thinking) o.enable_thinking = false;
      auto rendered = le.chat_template->render(messages, tools, o);
      if (!rendered.ok()) fail_command("generate", "--chat: " + rendered.status().message(), 2);
      r.prompt_token_ids = from_text(*rendered);
    } else {
      r.prompt_token_ids = from_text(f.prompt);
    }
    requests.push_back(std::move(r));
  }

  // Submit everything at once: the engine batches them continuously.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Collected> results(requests.size());
  std::size_t num_done = 0;
  const bool stream_text = !f.json && requests.size() == 1;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto id = le.engine->submit(std::move(requests[i]), [&, i](StreamEvent ev) {
      if (stream_text && !ev.text.empty()) {
        std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
        std::fflush(stdout);
      }
      std::lock_guard<std::mutex> lock(mu);
      Collected& c = results[i];
      c.token_ids.insert(c.token_ids.end(), ev.token_ids.begin(), ev.token_ids.end());
      c.text += ev.text;
      c.logprobs.insert(c.logprobs.end(), ev.logprobs.begin(), ev.logprobs.end());
      if (ev.finished) {
        c.done = true;
        ++num_done;
        c.last = std::move(ev);
        cv.notify_all();
      }
    });
    if (!id.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      results[i].done = true;
      results[i].last.finished = true;
      results[i].last.finish_reason = FinishReason::kError;
      results[i].last.error = id.status();
      ++num_done;
      if (requests.size() == 1) fail_command("generate", id.status().message(), 2);
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return num_done == results.size(); });
  }
  // The engine's own time in the model (forward pass and sampling), for
  // comparison with a server's pagoda_engine_model_seconds_total.
  const EngineStats stats = le.engine->stats();
  std::fprintf(stderr, "[engine: %lld model steps, %.3f ms each in the model]\n",
               static_cast<long long>(stats.num_model_steps),
               stats.num_model_steps > 0
                   ? 1e3 * stats.model_seconds / static_cast<double>(stats.num_model_steps)
                   : 0.0);
  if (stream_text) {
    const Collected& c = results[0];
    std::printf("\n");
    std::fprintf(stderr, "[%zu tokens, finish: %s, ttft %.0f ms, %.1f tokens/s]\n", c.token_ids.size(),
                 std::string(finish_reason_name(c.last.finish_reason)).c_str(),
                 c.last.timings.time_to_first_token_ms,
                 to_json(c, false)["timings"]["decode_tokens_per_s"].get<double>());
    return;
  }
  for (const Collected& c : results)
    std::printf("%s\n", to_json(c, f.logprobs >= 0).dump().c_str());
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text in-process (no server)");
  add_engine_flags(*cmd, f->engine);
  cmd->add_option("--prompt,-p", f->prompt, "Prompt text (special tokens in it are parsed)");
  cmd->add_option("--prompt-ids", f->prompt_ids, "Prompt as comma-separated token ids");
  cmd->add_option("--chat", f->chat,
                  "JSON file of chat messages (or {messages, tools}), rendered with the chat template");
  cmd->add_option("--prompts-file", f->prompts_file,
                  "JSONL: one {\"prompt\" | \"prompt_ids\", sampling fields...} per line, run as one batch");
  cmd->add_flag("--no-thinking", f->no_thinking, "With --chat: enable_thinking=false");
  cmd->add_flag("--json", f->json, "Print one JSON object per request");
  cmd->add_option("--max-tokens", f->max_tokens, "Most tokens to generate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", f->temperature, "0 = greedy (default: generation_config.json)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", f->top_p, "Nucleus sampling mass");
  cmd->add_option("--top-k", f->top_k, "Top-k (0 = off)");
  cmd->add_option("--min-p", f->min_p, "Min-p");
  cmd->add_option("--repetition-penalty", f->repetition_penalty, "Repetition penalty (HF definition)");
  cmd->add_option("--presence-penalty", f->presence_penalty, "Presence penalty (OpenAI definition)");
  cmd->add_option("--frequency-penalty", f->frequency_penalty, "Frequency penalty (OpenAI definition)");
  cmd->add_option("--seed", f->seed, "Seed of the request's random stream");
  cmd->add_option("--stop", f->stop, "Stop string (repeatable); not included in the output");
  cmd->add_option("--stop-token-ids", f->stop_token_ids, "Comma-separated token ids that stop generation");
  cmd->add_flag("--ignore-eos", f->ignore_eos, "Keep generating past end-of-sequence tokens");
  cmd->add_option("--min-tokens", f->min_tokens, "Suppress stop tokens until this many are generated");
  cmd->add_option("--logprobs", f->logprobs, "Logprob of each chosen token and this many alternatives (0-20)")
      ->check(CLI::Range(0, 20));
  cmd->callback([f, cmd] { run(*f, *cmd); });
}

}  // namespace pagoda::tools
