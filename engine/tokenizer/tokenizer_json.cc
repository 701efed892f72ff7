#include "engine/tokenizer/tokenizer_json.h"

#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace pagoda {
namespace {

using Json = nlohmann::json;

Status field_error(const std::string& path, const std::string& what) {
  return invalid_argument("field '" + path + "': " + what);
}
Status field_unsupported(const std::string& path, const std::string& what) {
  return unimplemented("field '" + path + "': " + what);
}

const Json* find(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

bool is_null_or_missing(const Json* j) {
  return j == nullptr || j->is_null();
}

StatusOr<bool> get_bool(const Json& object, const char* name, const std::string& path, bool fallback) {
  const Json* j = find(object, name);
  if (is_null_or_missing(j)) return fallback;
  if (!j->is_boolean()) return field_error(path + "." + name, "expected a boolean");
  return j->get<bool>();
}

StatusOr<std::string> get_string(const Json& object, const char* name, const std::string& path) {
  const Json* j = find(object, name);
  if (j == nullptr) return field_error(path + "." + name, "missing");
  if (!j->is_string()) return field_error(path + "." + name, "expected a string");
  return j->get<std::string>();
}

StatusOr<std::int32_t> to_id(const Json& j, const std::string& path) {
  if (!j.is_number_integer()) return field_error(path, "expected an integer token id");
  const auto v = j.get<std::int64_t>();
  if (v < 0 || v >= std::numeric_limits<std::int32_t>::max()) {
    return field_error(path, "token id " + std::to_string(v) + " out of range");
  }
  return static_cast<std::int32_t>(v);
}

Status parse_normalizer(const Json& j, const std::string& path, std::vector<NormalizationForm>& out) {
  if (j.is_null()) return ok_status();
  if (!j.is_object()) return field_error(path, "expected an object or null");
  PAGODA_ASSIGN_OR_RETURN(const std::string type, get_string(j, "type", path));
  if (type == "NFC") {
    out.push_back(NormalizationForm::kNfc);
  } else if (type == "NFD") {
    out.push_back(NormalizationForm::kNfd);
  } else if (type == "NFKC") {
    out.push_back(NormalizationForm::kNfkc);
  } else if (type == "NFKD") {
    out.push_back(NormalizationForm::kNfkd);
  } else if (type == "Sequence") {
    const Json* list = find(j, "normalizers");
    if (list == nullptr || !list->is_array()) return field_error(path + ".normalizers", "expected an array");
    for (std::size_t i = 0; i < list->size(); ++i) {
      PAGODA_RETURN_IF_ERROR(
          parse_normalizer((*list)[i], path + ".normalizers[" + std::to_string(i) + "]", out));
    }
  } else {
    return field_unsupported(path + ".type", "unsupported normalizer \"" + type + "\"");
  }
  return ok_status();
}

Status parse_pre_tokenizer(const Json& j, const std::string& path, std::vector<PreTokenizerStepSpec>& out) {
  if (j.is_null()) return ok_status();
  if (!j.is_object()) return field_error(path, "expected an object or null");
  PAGODA_ASSIGN_OR_RETURN(const std::string type, get_string(j, "type", path));
  if (type == "Sequence") {
    const Json* list = find(j, "pretokenizers");
    if (list == nullptr || !list->is_array())
      return field_error(path + ".pretokenizers", "expected an array");
    for (std::size_t i = 0; i < list->size(); ++i) {
      PAGODA_RETURN_IF_ERROR(
          parse_pre_tokenizer((*list)[i], path + ".pretokenizers[" + std::to_string(i) + "]", out));
    }
    return ok_status();
  }
  PreTokenizerStepSpec step;
  if (type == "Split") {
    step.kind = PreTokenizerStepSpec::Kind::kSplit;
    const Json* pattern = find(j, "pattern");
    if (pattern == nullptr || !pattern->is_object())
      return field_error(path + ".pattern", "expected an object");
    if (const Json* r = find(*pattern, "Regex"); r != nullptr && r->is_string()) {
      step.pattern = r->get<std::string>();
      step.pattern_is_regex = true;
    } else if (const Json* s = find(*pattern, "String"); s != nullptr && s->is_string()) {
      step.pattern = s->get<std::string>();
      step.pattern_is_regex = false;
    } else {
      return field_error(path + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }
    PAGODA_ASSIGN_OR_RETURN(const std::string behavior, get_string(j, "behavior", path));
    if (behavior == "Isolated") {
      step.behavior = SplitBehavior::kIsolated;
    } else if (behavior == "Removed") {
      step.behavior = SplitBehavior::kRemoved;
    } else {
      return field_unsupported(path + ".behavior", "unsupported split behavior \"" + behavior + "\"");
    }
    PAGODA_ASSIGN_OR_RETURN(const bool invert, get_bool(j, "invert", path, false));
    if (invert) return field_unsupported(path + ".invert", "inverted splits are not supported");
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStepSpec::Kind::kByteLevel;
    // HF's defaults when the fields are absent.
    PAGODA_ASSIGN_OR_RETURN(step.add_prefix_space, get_bool(j, "add_prefix_space", path, true));
    PAGODA_ASSIGN_OR_RETURN(step.use_regex, get_bool(j, "use_regex", path, true));
  } else {
    return field_unsupported(path + ".type", "unsupported pre-tokenizer \"" + type + "\"");
  }
  out.push_back(std::move(step));
  return ok_status();
}

Status parse_decoder(const Json* j) {
  if (is_null_or_missing(j)) {
    return field_unsupported("decoder", "missing; only the ByteLevel decoder is supported");
  }
  if (!j->is_object()) return field_error("decoder", "expected an object");
  PAGODA_ASSIGN_OR_RETURN(const std::string type, get_string(*j, "type", "decoder"));
  if (type != "ByteLevel") {
    return field_unsupported("decoder.type", "unsupported decoder \"" + type + "\" (only ByteLevel)");
  }
  return ok_status();
}

Status parse_merge(const Json& m, const std::string& path, TokenizerSpec& spec) {
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const std::size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
      return field_error(path, "expected \"left right\"");
    }
    spec.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
  } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
  } else {
    return field_error(path, "expected \"left right\" or [\"left\", \"right\"]");
  }
  return ok_status();
}

// Takes model.vocab and model.merges out of the token stream as the parser
// meets them, so that their ~150,000 entries each never become a JSON tree
// (building and walking one was most of the load time). Everything else is
// kept for the tree walk below. As with a tree, a repeated key's last value
// counts. Depths are those nlohmann's parser callback reports: the root's
// members are at 1, model's at 2, entries of vocab and merges at 3.
class VocabAndMergesStream {
 public:
  explicit VocabAndMergesStream(TokenizerSpec& spec) : spec_(spec) {}

  // The parser callback: false drops the element from the tree.
  bool on_event(int depth, Json::parse_event_t event, Json& parsed) {
    using Event = Json::parse_event_t;
    if (event == Event::key && depth <= 2) {
      key_[depth] = parsed.get<std::string>();
      if (depth == 1) key_[2].clear();  // a new member of the root: no model key yet
      return true;
    }
    const bool in_model = key_[1] == "model";
    if (depth == 2 && in_model && (event == Event::object_start || event == Event::array_start)) {
      if (key_[2] == "vocab" && event == Event::object_start) {
        spec_.vocab.clear();
        vocab_error_ = ok_status();
        vocab_ = true;
        in_vocab_ = true;
      } else if (key_[2] == "merges" && event == Event::array_start) {
        spec_.merges.clear();
        merges_error_ = ok_status();
        merges_ = true;
        in_merges_ = true;
        num_merges_ = 0;
      }
      return true;
    }
    if (depth == 2 && (event == Event::object_end || event == Event::array_end)) {
      in_vocab_ = in_merges_ = false;
      return true;
    }
    if (depth != 3 || !(in_vocab_ || in_merges_)) return true;
    if (in_vocab_) return on_vocab_entry(event, parsed);
    return on_merge(event, parsed);
  }

  // Whether model.vocab (an object) and model.merges (an array) were streamed.
  bool has_vocab() const { return vocab_; }
  bool has_merges() const { return merges_; }
  // The first malformed entry of each, if any.
  const Status& vocab_error() const { return vocab_error_; }
  const Status& merges_error() const { return merges_error_; }

 private:
  bool on_vocab_entry(Json::parse_event_t event, Json& parsed) {
    using Event = Json::parse_event_t;
    if (event == Event::key) {
      entry_key_ = parsed.get<std::string>();
      return false;  // the key and its value stay out of the tree
    }
    if (event == Event::object_start || event == Event::array_start || event == Event::value) {
      const std::string path = "model.vocab[\"" + entry_key_ + "\"]";
      if (event != Event::value) {
        fail(vocab_error_, field_error(path, "expected an integer token id"));
      } else if (StatusOr<std::int32_t> id = to_id(parsed, path); !id.ok()) {
        fail(vocab_error_, id.status());
      } else {
        spec_.vocab.emplace_back(std::move(entry_key_), *id);
      }
    }
    return false;
  }

  bool on_merge(Json::parse_event_t event, Json& parsed) {
    using Event = Json::parse_event_t;
    // A ["left", "right"] entry is built as a small tree and read at its end;
    // anything else is read as it comes.
    if (event == Event::array_start) return true;
    if (event == Event::value || event == Event::array_end || event == Event::object_start) {
      const std::string path = "model.merges[" + std::to_string(num_merges_++) + "]";
      if (event == Event::object_start) {
        fail(merges_error_, field_error(path, "expected \"left right\" or [\"left\", \"right\"]"));
      } else if (Status s = parse_merge(parsed, path, spec_); !s.ok()) {
        fail(merges_error_, std::move(s));
      }
    }
    return false;
  }

  static void fail(Status& first, Status s) {
    if (first.ok()) first = std::move(s);
  }

  TokenizerSpec& spec_;
  std::string key_[3];     // the current key at depths 1 and 2
  std::string entry_key_;  // the current vocab entry's token
  bool vocab_ = false, merges_ = false;
  bool in_vocab_ = false, in_merges_ = false;
  std::size_t num_merges_ = 0;
  Status vocab_error_, merges_error_;
};

Status parse_model(const Json* model, const VocabAndMergesStream& streamed, TokenizerSpec& spec) {
  if (model == nullptr) return field_error("model", "missing");
  if (!model->is_object()) return field_error("model", "expected an object");
  if (const Json* type = find(*model, "type"); type != nullptr) {
    if (!type->is_string()) return field_error("model.type", "expected a string");
    if (type->get<std::string>() != "BPE") {
      return field_unsupported("model.type",
                               "unsupported model \"" + type->get<std::string>() + "\" (only BPE)");
    }
  }
  // vocab and merges were taken out of the stream when they had the right
  // kind; the tree holds them empty.
  const Json* vocab = find(*model, "vocab");
  if (vocab == nullptr) return field_error("model.vocab", "missing");
  if (!vocab->is_object() || !streamed.has_vocab()) {
    return field_error("model.vocab", "expected an object of token -> id");
  }
  PAGODA_RETURN_IF_ERROR(streamed.vocab_error());
  const Json* merges = find(*model, "merges");
  if (merges == nullptr) return field_error("model.merges", "missing");
  if (!merges->is_array() || !streamed.has_merges()) return field_error("model.merges", "expected an array");
  PAGODA_RETURN_IF_ERROR(streamed.merges_error());
  if (const Json* d = find(*model, "dropout"); !is_null_or_missing(d)) {
    if (!d->is_number() || d->get<double>() != 0.0)
      return field_unsupported("model.dropout", "BPE dropout is not supported");
  }
  for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json* s = find(*model, name);
    if (!is_null_or_missing(s) && !(s->is_string() && s->get_ref<const std::string&>().empty())) {
      return field_unsupported(std::string("model.") + name, "must be empty or null");
    }
  }
  PAGODA_ASSIGN_OR_RETURN(const bool byte_fallback, get_bool(*model, "byte_fallback", "model", false));
  if (byte_fallback) return field_unsupported("model.byte_fallback", "byte fallback is not supported");
  PAGODA_ASSIGN_OR_RETURN(spec.fuse_unk, get_bool(*model, "fuse_unk", "model", false));
  PAGODA_ASSIGN_OR_RETURN(spec.ignore_merges, get_bool(*model, "ignore_merges", "model", false));
  if (const Json* unk = find(*model, "unk_token"); !is_null_or_missing(unk)) {
    if (!unk->is_string()) return field_error("model.unk_token", "expected a string or null");
    spec.unk_token = unk->get<std::string>();
  }
  return ok_status();
}

Status parse_added_tokens(const Json* list, TokenizerSpec& spec) {
  if (is_null_or_missing(list)) return ok_status();
  if (!list->is_array()) return field_error("added_tokens", "expected an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& t = (*list)[i];
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object()) return field_error(path, "expected an object");
    AddedToken token;
    const Json* id = find(t, "id");
    if (id == nullptr) return field_error(path + ".id", "missing");
    PAGODA_ASSIGN_OR_RETURN(token.id, to_id(*id, path + ".id"));
    PAGODA_ASSIGN_OR_RETURN(token.content, get_string(t, "content", path));
    if (token.content.empty()) return field_error(path + ".content", "empty");
    PAGODA_ASSIGN_OR_RETURN(token.special, get_bool(t, "special", path, false));
    PAGODA_ASSIGN_OR_RETURN(token.single_word, get_bool(t, "single_word", path, false));
    PAGODA_ASSIGN_OR_RETURN(token.lstrip, get_bool(t, "lstrip", path, false));
    PAGODA_ASSIGN_OR_RETURN(token.rstrip, get_bool(t, "rstrip", path, false));
    PAGODA_ASSIGN_OR_RETURN(token.normalized, get_bool(t, "normalized", path, !token.special));
    spec.added_tokens.push_back(std::move(token));
  }
  return ok_status();
}

}  // namespace

StatusOr<TokenizerSpec> parse_tokenizer_json(std::string_view json_text) {
  TokenizerSpec spec;
  VocabAndMergesStream streamed(spec);
  Json root;
  try {
    root = Json::parse(json_text.begin(), json_text.end(),
                       [&streamed](int depth, Json::parse_event_t event, Json& parsed) {
                         return streamed.on_event(depth, event, parsed);
                       });
  } catch (const Json::exception& e) {
    return invalid_argument(std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object()) return invalid_argument("not a tokenizer.json: the top level is not an object");
  try {
    PAGODA_RETURN_IF_ERROR(parse_model(find(root, "model"), streamed, spec));
    if (const Json* n = find(root, "normalizer"); n != nullptr) {
      PAGODA_RETURN_IF_ERROR(parse_normalizer(*n, "normalizer", spec.normalizer));
    }
    if (const Json* p = find(root, "pre_tokenizer"); p != nullptr) {
      PAGODA_RETURN_IF_ERROR(parse_pre_tokenizer(*p, "pre_tokenizer", spec.pre_tokenizer));
    }
    PAGODA_RETURN_IF_ERROR(parse_decoder(find(root, "decoder")));
    PAGODA_RETURN_IF_ERROR(parse_added_tokens(find(root, "added_tokens"), spec));
  } catch (const Json::exception& e) {  // defensive: every access above is type-checked
    return invalid_argument(std::string("unexpected JSON structure: ") + e.what());
  }
  return spec;
}

}  // namespace pagoda
