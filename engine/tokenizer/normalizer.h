// Text normalizer of a tokenizer.json ("NFC", "NFD", "NFKC", "NFKD" or a
// "Sequence" of them), done with utf8proc. Immutable; any thread may use it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pagoda {

enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

class Normalizer {
 public:
  Normalizer() = default;  // the identity
  explicit Normalizer(std::vector<NormalizationForm> forms) : forms_(std::move(forms)) {}

  bool is_identity() const { return forms_.empty(); }

  // Appends normalize(text) to out. `text` must be valid UTF-8. ASCII stretches
  // are copied unchanged (they are invariant under every form and no ASCII
  // character composes with what precedes it).
  void normalize(std::string_view text, std::string& out) const;

 private:
  std::vector<NormalizationForm> forms_;
};

}  // namespace pagoda
