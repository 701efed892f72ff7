// Subcommands of the `pagoda` binary. Each add_*_command registers one
// subcommand on the root CLI11 app; its callback throws CLI::RuntimeError(code)
// to fail with a message already printed to stderr.
#pragma once

#include <string_view>

namespace CLI {
class App;
}

namespace pagoda::tools {

// Prints "pagoda <command>: <message>" to stderr and fails the subcommand with
// exit status `code` (1: the command failed, 2: bad usage).
[[noreturn]] void fail_command(std::string_view command, std::string_view message, int code = 1);

void add_info_command(CLI::App& app);
void add_make_model_command(CLI::App& app);
void add_tokenize_commands(CLI::App& app);  // tokenize, detokenize
void add_chat_template_command(CLI::App& app);
void add_generate_command(CLI::App& app);
#ifdef PAGODA_HAVE_SERVER
void add_serve_command(CLI::App& app);
void add_bench_command(CLI::App& app);  // bench serve
#endif

}  // namespace pagoda::tools
