#include "bench/client/workload.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "engine/tokenizer/tokenizer.h"

namespace pagoda::bench {
namespace {

using Json = nlohmann::json;

// Ordinary vocabulary ids (below the first added token), which any byte-level
// BPE can produce and which never parse as a special token.
std::int32_t ordinary_vocab_size(const Tokenizer& tokenizer) {
  std::int32_t limit = tokenizer.vocab_size();
  for (const AddedToken& t : tokenizer.added_tokens())
    limit = std::min(limit, t.id);
  return std::max(limit, 1);
}

std::int32_t sample_len(std::mt19937_64& rng, std::int32_t len, double range_ratio) {
  auto lo = static_cast<std::int32_t>(std::floor(len * (1.0 - range_ratio)));
  auto hi = static_cast<std::int32_t>(std::ceil(len * (1.0 + range_ratio)));
  lo = std::max(lo, 1);
  hi = std::max(hi, lo);
  return std::uniform_int_distribution<std::int32_t>(lo, hi)(rng);
}

// `n` random ordinary token ids whose text re-encodes to exactly `n` ids (what
// a server that tokenizes the text will see). Decoding random ids and encoding
// the text again may merge or split tokens; a few rounds of truncating or
// topping up converge in practice, and the last round's ids are kept as is.
void random_prompt(std::mt19937_64& rng, const Tokenizer& tokenizer, std::int32_t n, BenchRequest& out) {
  std::uniform_int_distribution<std::int32_t> id(0, ordinary_vocab_size(tokenizer) - 1);
  std::vector<std::int32_t> ids;
  for (int round = 0; round < 8; ++round) {
    while (static_cast<std::int32_t>(ids.size()) < n)
      ids.push_back(id(rng));
    ids.resize(static_cast<std::size_t>(n));
    std::vector<std::int32_t> again = tokenizer.encode(tokenizer.decode(ids), false);
    bool same = again.size() == ids.size();
    ids = std::move(again);
    if (same) break;
  }
  ids.resize(std::min(ids.size(), static_cast<std::size_t>(n)));
  out.prompt = tokenizer.decode(ids);
  out.prompt_ids = std::move(ids);
  out.prompt_tokens = static_cast<std::int32_t>(out.prompt_ids.size());
}

Status check_positive(std::int64_t v, const char* flag) {
  if (v <= 0) return invalid_argument(std::string(flag) + ": must be positive, got " + std::to_string(v));
  return ok_status();
}

StatusOr<std::vector<BenchRequest>> make_random(const WorkloadOptions& o, const Tokenizer& tokenizer) {
  PAGODA_RETURN_IF_ERROR(check_positive(o.input_len, "--input-len"));
  PAGODA_RETURN_IF_ERROR(check_positive(o.output_len, "--output-len"));
  if (!(o.range_ratio >= 0 && o.range_ratio < 1))
    return invalid_argument("--range-ratio: must be in [0, 1), got " + std::to_string(o.range_ratio));
  std::mt19937_64 rng(o.seed);
  std::vector<BenchRequest> out(static_cast<std::size_t>(o.num_requests));
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].index = static_cast<std::int64_t>(i);
    random_prompt(rng, tokenizer, sample_len(rng, o.input_len, o.range_ratio), out[i]);
    out[i].max_tokens = sample_len(rng, o.output_len, o.range_ratio);
  }
  return out;
}

StatusOr<std::vector<BenchRequest>> make_prefix_repetition(const WorkloadOptions& o,
                                                           const Tokenizer& tokenizer) {
  PAGODA_RETURN_IF_ERROR(check_positive(o.num_prefixes, "--num-prefixes"));
  PAGODA_RETURN_IF_ERROR(check_positive(o.prefix_len, "--prefix-len"));
  PAGODA_RETURN_IF_ERROR(check_positive(o.suffix_len, "--suffix-len"));
  PAGODA_RETURN_IF_ERROR(check_positive(o.output_len, "--output-len"));
  std::mt19937_64 rng(o.seed);
  std::vector<BenchRequest> prefixes(static_cast<std::size_t>(o.num_prefixes));
  for (BenchRequest& p : prefixes)
    random_prompt(rng, tokenizer, o.prefix_len, p);
  std::vector<BenchRequest> out(static_cast<std::size_t>(o.num_requests));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const BenchRequest& prefix = prefixes[i % prefixes.size()];
    BenchRequest suffix;
    random_prompt(rng, tokenizer, o.suffix_len, suffix);
    BenchRequest& r = out[i];
    r.prompt_ids = prefix.prompt_ids;
    r.prompt_ids.insert(r.prompt_ids.end(), suffix.prompt_ids.begin(), suffix.prompt_ids.end());
    r.prompt = prefix.prompt + suffix.prompt;
    r.prompt_tokens = static_cast<std::int32_t>(r.prompt_ids.size());
    r.max_tokens = o.output_len;
  }
  // Interleave prefixes in a seeded random order, as real traffic would.
  std::shuffle(out.begin(), out.end(), rng);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].index = static_cast<std::int64_t>(i);
  return out;
}

// vLLM's ShareGPT sampling: the first human turn is the prompt, the reply's
// length the output length; pairs too short (< 4 tokens) or too long (prompt >
// 1024 or prompt + output > 2048 tokens) are skipped; conversations are
// shuffled with the seed.
StatusOr<std::vector<BenchRequest>> make_sharegpt(const WorkloadOptions& o, const Tokenizer& tokenizer) {
  if (o.path.empty()) return invalid_argument("--dataset-path: required for --dataset sharegpt");
  PAGODA_ASSIGN_OR_RETURN(std::string text, read_file(o.path));
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array())
    return invalid_argument(o.path + ": not a JSON array of ShareGPT conversations");
  std::vector<std::size_t> order(doc.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<BenchRequest> out;
  for (std::size_t i : order) {
    if (static_cast<std::int64_t>(out.size()) >= o.num_requests) break;
    const Json& conv = doc[i];
    if (!conv.is_object() || !conv.contains("conversations") || !conv["conversations"].is_array()) continue;
    const Json& turns = conv["conversations"];
    if (turns.size() < 2 || !turns[0].is_object() || !turns[1].is_object()) continue;
    if (!turns[0].contains("value") || !turns[0]["value"].is_string()) continue;
    if (!turns[1].contains("value") || !turns[1]["value"].is_string()) continue;
    BenchRequest r;
    r.prompt = turns[0]["value"].get<std::string>();
    r.prompt_ids = tokenizer.encode(r.prompt, false);
    r.prompt_tokens = static_cast<std::int32_t>(r.prompt_ids.size());
    std::int32_t reply =
        o.sharegpt_output_len > 0
            ? o.sharegpt_output_len
            : static_cast<std::int32_t>(tokenizer.encode(turns[1]["value"].get<std::string>(), false).size());
    if (r.prompt_tokens < 4 || reply < 4) continue;
    if (o.sharegpt_output_len <= 0 && (r.prompt_tokens > 1024 || r.prompt_tokens + reply > 2048)) continue;
    r.max_tokens = reply;
    r.index = static_cast<std::int64_t>(out.size());
    out.push_back(std::move(r));
  }
  if (out.empty())
    return invalid_argument(o.path + ": no usable conversation (need a human turn and a reply)");
  return out;
}

// JSONL: one {"prompt": TEXT, "max_tokens"?: N} per line; cycled when fewer
// lines than requests.
StatusOr<std::vector<BenchRequest>> make_from_file(const WorkloadOptions& o, const Tokenizer& tokenizer) {
  if (o.path.empty()) return invalid_argument("--dataset-path: required for --dataset file");
  PAGODA_ASSIGN_OR_RETURN(std::string text, read_file(o.path));
  std::vector<BenchRequest> prompts;
  std::istringstream lines(text);
  std::string line;
  for (int line_no = 1; std::getline(lines, line); ++line_no) {
    if (trim(line).empty()) continue;
    std::string where = o.path + ":" + std::to_string(line_no);
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid_argument(where + ": not a JSON object");
    const char* key = j.contains("prompt") ? "prompt" : "text";
    if (!j.contains(key) || !j[key].is_string())
      return invalid_argument(where + ": \"prompt\" must be a string");
    BenchRequest r;
    r.prompt = j[key].get<std::string>();
    r.prompt_ids = tokenizer.encode(r.prompt, false);
    r.prompt_tokens = static_cast<std::int32_t>(r.prompt_ids.size());
    r.max_tokens = o.output_len;
    if (j.contains("max_tokens")) {
      if (!j["max_tokens"].is_number_integer() || j["max_tokens"].get<std::int64_t>() < 1 ||
          j["max_tokens"].get<std::int64_t>() > (1 << 24))
        return invalid_argument(where + ": \"max_tokens\" must be a positive integer");
      r.max_tokens = j["max_tokens"].get<std::int32_t>();
    }
    prompts.push_back(std::move(r));
  }
  if (prompts.empty()) return invalid_argument(o.path + ": no prompts");
  std::vector<BenchRequest> out(static_cast<std::size_t>(o.num_requests));
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = prompts[i % prompts.size()];
    out[i].index = static_cast<std::int64_t>(i);
  }
  return out;
}

}  // namespace

std::string WorkloadOptions::describe() const {
  auto pct = [](double r) { return std::to_string(static_cast<int>(std::lround(r * 100))) + "%"; };
  if (kind == "random")
    return "random(in=" + std::to_string(input_len) + "±" + pct(range_ratio) +
           ",out=" + std::to_string(output_len) + "±" + pct(range_ratio) + ")";
  if (kind == "prefix-repetition")
    return "prefix-repetition(prefixes=" + std::to_string(num_prefixes) +
           ",prefix=" + std::to_string(prefix_len) + ",suffix=" + std::to_string(suffix_len) +
           ",out=" + std::to_string(output_len) + ")";
  return kind + "(" + path + ")";
}

StatusOr<std::vector<BenchRequest>> make_workload(const WorkloadOptions& o, const Tokenizer& tokenizer) {
  PAGODA_RETURN_IF_ERROR(check_positive(o.num_requests, "--num-prompts"));
  if (o.kind == "random") return make_random(o, tokenizer);
  if (o.kind == "prefix-repetition") return make_prefix_repetition(o, tokenizer);
  if (o.kind == "sharegpt") return make_sharegpt(o, tokenizer);
  if (o.kind == "file") return make_from_file(o, tokenizer);
  return invalid_argument("--dataset: unknown workload '" + o.kind +
                          "' (random, sharegpt, prefix-repetition, file)");
}

}  // namespace pagoda::bench
