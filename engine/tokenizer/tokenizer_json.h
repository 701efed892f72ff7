// Parser of Hugging Face tokenizer.json files into a TokenizerSpec. Accepts
// byte-level BPE tokenizers (GPT-2, Llama 3, Qwen 2/3 style) and rejects
// anything else with an error naming the field. Pure functions; any thread.
#pragma once

#include <string_view>

#include "base/status.h"
#include "engine/tokenizer/tokenizer_spec.h"

namespace pagoda {

// Parses the text of a tokenizer.json. Errors read "field 'model.vocab': ...";
// the caller adds the file name.
StatusOr<TokenizerSpec> parse_tokenizer_json(std::string_view json_text);

}  // namespace pagoda
