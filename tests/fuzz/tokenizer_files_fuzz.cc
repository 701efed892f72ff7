// Fuzzes loading a model's tokenizer files, which come from outside (a
// checkpoint directory): byte 0 even — the rest is a tokenizer.json
// (Tokenizer::from_json); a tokenizer that loads must encode and decode
// sample text with ids in range, valid UTF-8 out, and streaming decode equal
// to decode. Byte 0 odd — the rest is a tokenizer_config.json
// (ChatTemplate::from_tokenizer_config_json); a template that loads must
// render a small conversation or fail cleanly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/chat/chat_template.h"
#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using pagoda::fuzz::check;

void fuzz_tokenizer_json(std::string_view text) {
  auto tok = pagoda::Tokenizer::from_json(text, "tokenizer.json");
  if (!tok.ok()) return;
  const pagoda::Tokenizer& t = **tok;
  for (std::string_view sample :
       {std::string_view("Hello, world! 123 <|im_start|>user\nhé\xff</s>"), text.substr(0, 256)}) {
    for (bool special : {true, false}) {
      const auto ids = t.encode(sample, special);
      for (std::int32_t id : ids)
        check(id >= 0 && id < t.vocab_size(), "ids in range");
      const std::string decoded = t.decode(ids);
      check(pagoda::utf8::find_invalid(decoded) == decoded.size(), "decode gives valid UTF-8");
      pagoda::IncrementalDetokenizer detok(t, /*skip_special_tokens=*/false);
      std::string streamed;
      for (std::int32_t id : ids)
        streamed += detok.push(id);
      streamed += detok.finish();
      check(streamed == decoded, "streamed decode equals decode");
    }
  }
}

void fuzz_tokenizer_config(std::string_view text) {
  nlohmann::ordered_json config = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return;
  auto tmpl = pagoda::ChatTemplate::from_tokenizer_config_json(config);
  if (!tmpl.ok()) return;
  const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
          {"role": "assistant", "content": "<think>r</think>a"}, {"role": "user", "content": "again"}])");
  pagoda::ChatTemplateOptions options;
  options.add_generation_prompt = true;
  (void)tmpl->render(messages, nlohmann::ordered_json(), options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    fuzz_tokenizer_json(text);
  } else {
    fuzz_tokenizer_config(text);
  }
  return 0;
}
