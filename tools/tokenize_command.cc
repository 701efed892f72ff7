// `pagoda tokenize` and `pagoda detokenize`: text <-> token ids with a model's
// tokenizer.json (default: the bundled Qwen 3 tokenizer).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "engine/tokenizer/tokenizer.h"
#include "tools/command.h"
#include "tools/data_dirs.h"
#include "tools/model_loader.h"

namespace pagoda::tools {
namespace {

StatusOr<std::shared_ptr<const Tokenizer>> tokenizer_for(const std::string& model_dir) {
  if (!model_dir.empty()) return load_tokenizer(model_dir);
  PAGODA_ASSIGN_OR_RETURN(std::string dir, find_tokenizer_dir());
  return load_tokenizer(dir);
}

struct TokenizeFlags {
  std::string model, text, file;
  bool no_special = false;
};

struct DetokenizeFlags {
  std::string model, ids;
  bool skip_special_tokens = false;
};

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto tf = std::make_shared<TokenizeFlags>();
  CLI::App* tok = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  tok->add_option("--model,-m", tf->model,
                  "Model directory holding tokenizer.json (default: bundled Qwen 3)");
  auto* text_opt = tok->add_option("--text,-t", tf->text, "The text (default: standard input)");
  tok->add_option("--file,-f", tf->file, "Read the text from this file")->excludes(text_opt);
  tok->add_flag(
      "--no-special", tf->no_special,
      "Treat special-token strings in the text as plain text (default: parse them, as the reference does)");
  tok->callback([tf, tok] {
    auto t = tokenizer_for(tf->model);
    if (!t.ok()) fail_command("tokenize", t.status().message());
    std::string input;
    if (tok->count("--text") > 0) {
      input = tf->text;
    } else if (!tf->file.empty()) {
      auto r = read_file(tf->file);
      if (!r.ok()) fail_command("tokenize", r.status().message());
      input = std::move(r).value();
    } else {
      input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    std::printf("%s\n", ids_to_json((*t)->encode(input, !tf->no_special)).c_str());
  });

  auto df = std::make_shared<DetokenizeFlags>();
  CLI::App* detok = app.add_subcommand("detokenize", "Print the text of comma-separated token ids");
  detok->add_option("--model,-m", df->model,
                    "Model directory holding tokenizer.json (default: bundled Qwen 3)");
  detok->add_option("--ids", df->ids, "Token ids, e.g. 9707,11,1879")->required();
  detok->add_flag("--skip-special-tokens", df->skip_special_tokens, "Leave special tokens out of the text");
  detok->callback([df] {
    auto t = tokenizer_for(df->model);
    if (!t.ok()) fail_command("detokenize", t.status().message());
    auto ids = parse_int_list(df->ids, "--ids");
    if (!ids.ok()) fail_command("detokenize", ids.status().message());
    for (std::int32_t id : *ids) {
      if (id < 0 || id >= (*t)->vocab_size()) {
        fail_command("detokenize", "--ids: " + std::to_string(id) + " is outside the vocabulary (0.." +
                                       std::to_string((*t)->vocab_size() - 1) + ")");
      }
    }
    std::string text = (*t)->decode(*ids, df->skip_special_tokens);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  });
}

}  // namespace pagoda::tools
