// The `pagoda` binary: one executable, one subcommand per job.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "base/build_info.h"
#include "tools/command.h"

int main(int argc, char** argv) {
  CLI::App app{"Pagoda: an inference server for the Qwen 3 family of language models."};
  app.name("pagoda");
  app.set_version_flag("--version", pagoda::describe_build(),
                       "Print the version, git commit and compiled-in backends");
  app.require_subcommand(1);
  app.fallthrough(false);

  pagoda::tools::add_info_command(app);
  pagoda::tools::add_make_model_command(app);
  pagoda::tools::add_tokenize_commands(app);
  pagoda::tools::add_chat_template_command(app);
  pagoda::tools::add_generate_command(app);
#ifdef PAGODA_HAVE_SERVER
  pagoda::tools::add_serve_command(app);
  pagoda::tools::add_bench_command(app);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
