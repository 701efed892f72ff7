// `pagoda bench serve`: a load generator for Pagoda (gRPC) and any
// OpenAI-compatible server, following `vllm bench serve`'s names and metric
// definitions. Builds the workload, runs it once or as a sweep, scrapes the
// target's metrics and writes the table, JSON, CSV and HTML reports.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/build_info.h"
#include "bench/client/bench_result.h"
#include "bench/client/http_get.h"
#include "bench/client/load_runner.h"
#include "bench/client/metrics_scraper.h"
#include "bench/client/report_writer.h"
#include "bench/client/sweep.h"
#include "bench/client/target_client.h"
#include "bench/client/workload.h"
#include "engine/tokenizer/tokenizer.h"
#include "tools/command.h"
#include "tools/data_dirs.h"
#include "tools/model_loader.h"

namespace pagoda::tools {
namespace {

using namespace pagoda::bench;

struct BenchFlags {
  TargetOptions target;
  std::string target_address;
  std::string tokenizer;
  WorkloadOptions workload;
  LoadOptions load;
  std::string request_rate = "inf";
  std::string sweep;
  std::string percentiles = "90,99";
  std::string slo;
  std::string metrics_url;
  int metrics_interval_ms = 1000;
  std::string output_json, output_csv, output_html;
  bool save_records = false;
  bool no_progress = false;
  bool no_ignore_eos = false;
  std::string prompt_format = "ids";
  double temperature = std::numeric_limits<double>::quiet_NaN();
};

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status write_text(const std::string& path, const std::string& text, const char* flag) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return invalid_argument(std::string(flag) + ": cannot write '" + path + "'");
  return ok_status();
}

StatusOr<double> parse_rate(const std::string& text) {
  if (text == "inf") return std::numeric_limits<double>::infinity();
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(v > 0) || !std::isfinite(v))
    return invalid_argument("--request-rate: '" + text + "' is not a positive number or inf");
  return v;
}

// host:port; the port defaults to the protocol's usual one.
Status parse_target(const std::string& address, TargetOptions& t) {
  int default_port = t.protocol == "grpc" ? 50051 : 8000;
  std::string host = address;
  std::string port;
  std::size_t colon = address.rfind(':');
  if (!address.empty() && address.front() == '[') {  // [v6]:port
    std::size_t close = address.find(']');
    if (close == std::string::npos) return invalid_argument("--target: unbalanced '[' in '" + address + "'");
    host = address.substr(1, close - 1);
    if (close + 1 < address.size() && address[close + 1] == ':') port = address.substr(close + 2);
  } else if (colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty()) return invalid_argument("--target: no host in '" + address + "'");
  t.host = host;
  t.port = default_port;
  if (!port.empty()) {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (end != port.c_str() + port.size() || p < 1 || p > 65535)
      return invalid_argument("--target: '" + port + "' is not a port");
    t.port = static_cast<int>(p);
  }
  return ok_status();
}

// The first model the OpenAI server lists (plain HTTP only).
StatusOr<std::string> discover_model(const TargetOptions& t) {
  std::string url = "http://" + t.host + ":" + std::to_string(t.port) + "/v1/models";
  StatusOr<HttpUrl> parsed = parse_http_url(url);
  if (!parsed.ok()) return parsed.status();
  StatusOr<std::string> body = http_get(*parsed);
  if (!body.ok()) return invalid_argument("--model: not given and " + body.status().message());
  nlohmann::json j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
      j["data"][0].is_object() && j["data"][0].contains("id") && j["data"][0]["id"].is_string())
    return j["data"][0]["id"].get<std::string>();
  return invalid_argument("--model: not given and " + url + " lists no model");
}

StatusOr<BenchRun> run_level(TargetClient& client, const std::vector<BenchRequest>& requests,
                             LoadOptions load, const BenchFlags& f, const std::vector<double>& percentiles,
                             const Slo& slo) {
  BenchRun run;
  run.request_rate = load.request_rate;
  run.burstiness = load.burstiness;
  run.max_concurrency = load.max_concurrency;
  run.label = load.label;
  std::unique_ptr<MetricsScraper> scraper;
  if (!f.metrics_url.empty()) scraper = std::make_unique<MetricsScraper>(f.metrics_url);
  // The server's view covers the measured requests only: "before" is taken after the warm-up.
  LoadOutcome outcome = run_load(client, requests, load, [&] {
    if (!scraper) return;
    Status s = scraper->scrape_before();
    if (!s.ok()) std::fprintf(stderr, "pagoda bench: metrics: %s\n", s.message().c_str());
    scraper->start_sampling(std::chrono::milliseconds(f.metrics_interval_ms));
  });
  if (scraper) {
    scraper->stop_sampling();
    Status s = scraper->scrape_after();
    if (!s.ok()) std::fprintf(stderr, "pagoda bench: metrics: %s\n", s.message().c_str());
    run.server = scraper->view();
  }
  run.achieved_rate = outcome.achieved_rate;
  run.summary = summarize(outcome.records, outcome.duration_s, percentiles, slo);
  run.records = std::move(outcome.records);
  return run;
}

std::string level_label(SweepSpec::Kind kind, double level) {
  if (kind == SweepSpec::Kind::kConcurrency) return "concurrency=" + std::to_string(static_cast<int>(level));
  if (!std::isfinite(level)) return "rate=inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "rate=%g", level);
  return buf;
}

Status run_bench(BenchFlags& f) {
  TargetOptions& t = f.target;
  if (t.protocol != "grpc" && t.protocol != "openai-chat" && t.protocol != "openai-completions")
    return invalid_argument("--protocol: '" + t.protocol +
                            "' is not grpc, openai-chat or openai-completions");
  PAGODA_RETURN_IF_ERROR(parse_target(f.target_address, t));
  if (f.prompt_format != "ids" && f.prompt_format != "text")
    return invalid_argument("--prompt-format: '" + f.prompt_format + "' is not ids or text");
  t.send_token_ids = f.prompt_format == "ids";
  t.ignore_eos = !f.no_ignore_eos;
  if (!std::isnan(f.temperature)) t.temperature = f.temperature;
  if (t.api_key.empty()) {
    for (const char* env : {"PAGODA_API_KEY", "OPENAI_API_KEY"}) {
      const char* v = std::getenv(env);
      if (v != nullptr && *v != '\0') {
        t.api_key = v;
        break;
      }
    }
  }
  PAGODA_ASSIGN_OR_RETURN(std::vector<double> percentiles, parse_percentiles(f.percentiles));
  PAGODA_ASSIGN_OR_RETURN(Slo slo, parse_slo(f.slo));
  PAGODA_ASSIGN_OR_RETURN(double rate, parse_rate(f.request_rate));
  if (!(f.load.burstiness > 0)) return invalid_argument("--burstiness: must be positive");
  if (f.load.max_concurrency < 0) return invalid_argument("--max-concurrency: must not be negative");
  if (f.load.num_warmup < 0) return invalid_argument("--num-warmup: must not be negative");
  if (f.load.duration_s < 0) return invalid_argument("--duration: must not be negative");
  if (f.metrics_interval_ms < 50) return invalid_argument("--metrics-interval-ms: at least 50");
  std::optional<SweepSpec> sweep;
  if (!f.sweep.empty()) {
    PAGODA_ASSIGN_OR_RETURN(SweepSpec spec, parse_sweep(f.sweep));
    sweep = spec;
  }

  std::string tokenizer_dir = f.tokenizer;
  if (tokenizer_dir.empty()) {
    PAGODA_ASSIGN_OR_RETURN(tokenizer_dir, find_tokenizer_dir());
  }
  PAGODA_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer, load_tokenizer(tokenizer_dir));
  f.workload.seed = f.load.seed;
  PAGODA_ASSIGN_OR_RETURN(std::vector<BenchRequest> requests, make_workload(f.workload, *tokenizer));

  if (t.model.empty() && t.protocol != "grpc" && !t.tls) {
    PAGODA_ASSIGN_OR_RETURN(t.model, discover_model(t));
  }
  PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<TargetClient> client, make_target_client(t));

  BenchResult result;
  result.protocol = t.protocol;
  result.target = f.target_address;
  result.model = t.model;
  result.workload = f.workload.describe();
  result.seed = f.load.seed;
  result.started_at = utc_now_iso();
  result.client_version = describe_build();
  result.percentiles = percentiles;

  std::vector<LoadOptions> levels;
  LoadOptions base = f.load;
  base.request_rate = rate;
  base.progress = !f.no_progress;
  if (sweep) {
    for (double level : sweep->levels) {
      LoadOptions o = base;
      if (sweep->kind == SweepSpec::Kind::kRate) {
        o.request_rate = level;
      } else {
        o.max_concurrency = static_cast<int>(level);
      }
      o.label = level_label(sweep->kind, level);
      levels.push_back(o);
    }
  } else {
    base.label = base.max_concurrency > 0 ? level_label(SweepSpec::Kind::kConcurrency, base.max_concurrency)
                                          : level_label(SweepSpec::Kind::kRate, rate);
    levels.push_back(base);
  }
  for (const LoadOptions& o : levels) {
    PAGODA_ASSIGN_OR_RETURN(BenchRun run, run_level(*client, requests, o, f, percentiles, slo));
    result.runs.push_back(std::move(run));
  }
  if (sweep) find_saturation(result);

  std::printf("%s", format_table(result).c_str());
  std::fflush(stdout);
  if (!f.output_json.empty())
    PAGODA_RETURN_IF_ERROR(write_text(f.output_json, to_json(result, f.save_records), "--output-json"));
  if (!f.output_csv.empty()) PAGODA_RETURN_IF_ERROR(write_text(f.output_csv, to_csv(result), "--output-csv"));
  if (!f.output_html.empty())
    PAGODA_RETURN_IF_ERROR(write_text(f.output_html, to_html(result), "--output-html"));
  std::int64_t completed = 0;
  for (const BenchRun& r : result.runs)
    completed += r.summary.completed;
  if (completed == 0) return unavailable("no request completed (see the error breakdown above)");
  return ok_status();
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = bench->add_subcommand(
      "serve", "Load-test a running server (Pagoda over gRPC, or any OpenAI-compatible HTTP server)");
  cmd->add_option("--protocol", f->target.protocol, "grpc, openai-chat or openai-completions")
      ->capture_default_str();
  cmd->add_option("--target", f->target_address, "host:port of the server")
      ->default_str("127.0.0.1:8000 (grpc: :50051)");
  cmd->add_option("--model", f->target.model,
                  "Model name sent to OpenAI servers (default: the first of /v1/models)");
  cmd->add_option("--api-key", f->target.api_key, "API key (default: $PAGODA_API_KEY or $OPENAI_API_KEY)");
  cmd->add_flag("--tls", f->target.tls, "Connect with TLS");
  cmd->add_option("--tls-ca", f->target.tls_ca_file, "PEM roots to trust (default: the system's)");
  cmd->add_flag("--tls-insecure", f->target.tls_insecure, "HTTP: do not verify the server certificate");
  cmd->add_option("--tokenizer", f->tokenizer, "Directory with tokenizer.json (default: Qwen 3's)");
  cmd->add_option("--dataset", f->workload.kind, "random, sharegpt, prefix-repetition or file")
      ->capture_default_str();
  cmd->add_option("--dataset-path", f->workload.path, "ShareGPT JSON or JSONL prompts file");
  cmd->add_option("--num-prompts", f->workload.num_requests, "Requests in the workload")
      ->capture_default_str();
  cmd->add_option("--input-len", f->workload.input_len, "random: mean prompt tokens")->capture_default_str();
  cmd->add_option("--output-len", f->workload.output_len, "Output tokens (random, prefix-repetition, file)")
      ->capture_default_str();
  cmd->add_option("--range-ratio", f->workload.range_ratio,
                  "random: lengths vary uniformly by ±this fraction")
      ->capture_default_str();
  cmd->add_option("--num-prefixes", f->workload.num_prefixes, "prefix-repetition: distinct prefixes")
      ->capture_default_str();
  cmd->add_option("--prefix-len", f->workload.prefix_len, "prefix-repetition: prefix tokens")
      ->capture_default_str();
  cmd->add_option("--suffix-len", f->workload.suffix_len, "prefix-repetition: unique suffix tokens")
      ->capture_default_str();
  cmd->add_option("--sharegpt-output-len", f->workload.sharegpt_output_len,
                  "sharegpt: fixed output length instead of the reply's");
  cmd->add_option("--seed", f->load.seed, "Seed of the workload and the arrivals")->capture_default_str();
  cmd->add_option("--request-rate", f->request_rate, "Requests per second, or inf (all at once)")
      ->capture_default_str();
  cmd->add_option("--burstiness", f->load.burstiness, "Gamma shape of arrivals: 1 Poisson, <1 burstier")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", f->load.max_concurrency, "Most requests in flight (0: no cap)")
      ->capture_default_str();
  cmd->add_option("--duration", f->load.duration_s,
                  "Seconds to run, cycling the workload (default: one pass)");
  cmd->add_option("--num-warmup", f->load.num_warmup, "Warm-up requests, excluded from the results")
      ->capture_default_str();
  cmd->add_option("--sweep", f->sweep, "rate=1,2,4,inf or concurrency=1,4,16: one run per level");
  cmd->add_option("--percentiles", f->percentiles, "Percentiles to report")->capture_default_str();
  cmd->add_option("--slo", f->slo, "Goodput objectives, e.g. ttft=500ms,tpot=50ms,e2e=10s");
  cmd->add_option("--metrics-url", f->metrics_url,
                  "The target's Prometheus endpoint, e.g. http://host:9090/metrics");
  cmd->add_option("--metrics-interval-ms", f->metrics_interval_ms, "Scrape period during the run")
      ->capture_default_str();
  cmd->add_option("--output-json", f->output_json, "Write the results as JSON");
  cmd->add_flag("--save-records", f->save_records, "Include every request's record in the JSON");
  cmd->add_option("--output-csv", f->output_csv, "Write one CSV row per run");
  cmd->add_option("--output-html", f->output_html, "Write a self-contained HTML report (CDFs, sweep curve)");
  cmd->add_flag("--no-progress", f->no_progress, "No progress line on stderr");
  cmd->add_flag("--no-ignore-eos", f->no_ignore_eos, "Let the model stop at EOS (output lengths vary)");
  cmd->add_option("--prompt-format", f->prompt_format, "grpc: send prompts as ids or text")
      ->capture_default_str();
  cmd->add_option("--temperature", f->temperature, "Sampling temperature (default: the server's)");
  cmd->add_option("--request-timeout", f->target.request_timeout_s,
                  "Seconds before a request counts as failed")
      ->capture_default_str();
  cmd->add_option("--client-threads", f->target.num_threads,
                  "HTTP client I/O threads (one io_context each; requests are dealt to them in turn). The "
                  "gRPC client polls its one connection with one thread")
      ->capture_default_str();
  cmd->callback([f] {
    if (f->target_address.empty())
      f->target_address = f->target.protocol == "grpc" ? "127.0.0.1:50051" : "127.0.0.1:8000";
    Status s = run_bench(*f);
    if (!s.ok()) fail_command("bench serve", s.message());
  });
}

}  // namespace pagoda::tools
