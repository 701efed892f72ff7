// `pagoda serve`: the inference server — gRPC (pagoda.v1), the OpenAI-compatible
// HTTP API and Prometheus metrics over one Engine, until SIGINT/SIGTERM drains it.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"
#include "server/logging.h"
#include "server/server.h"
#include "server/worker_node.h"
#include "tools/command.h"
#include "tools/data_dirs.h"

namespace pagoda::tools {
namespace {

struct ServeFlags {
  server::ServeOptions options;
  std::string config_file;
  bool check_config = false;
};

// The demo model (`make serve` on a fresh machine): the tiny preset, seed 0.
Status ensure_demo_model(const std::string& dir) {
  if (std::filesystem::exists(std::filesystem::path(dir) / "config.json")) return ok_status();
  PAGODA_ASSIGN_OR_RETURN(ModelConfig config, model_preset("tiny"));
  PAGODA_ASSIGN_OR_RETURN(std::string tokenizer_dir, find_tokenizer_dir());
  RandomCheckpointOptions o;
  o.config = config;
  o.seed = 0;
  o.out_dir = dir;
  o.tokenizer_dir = tokenizer_dir;
  std::fprintf(stderr, "pagoda serve: creating the demo model (preset tiny, seed 0) in %s\n", dir.c_str());
  return write_random_checkpoint(o);
}

int run(ServeFlags& flags, const CLI::App& cmd) {
  server::ServeOptions o = flags.options;
  if (!flags.config_file.empty()) {
    // The file gives defaults; flags given on the command line win.
    server::ServeOptions from_file;
    Status s = server::apply_config_file(flags.config_file, from_file);
    if (!s.ok()) {
      std::fprintf(stderr, "pagoda serve: --config: %s\n", s.message().c_str());
      return 2;
    }
    server::ServeOptions defaults;
    auto pick = [&](auto& field, const auto& file_value, const char* flag) {
      if (cmd.count(flag) == 0) field = file_value;
    };
    pick(o.host, from_file.host, "--host");
    pick(o.grpc_port, from_file.grpc_port, "--grpc-port");
    pick(o.http_port, from_file.http_port, "--http-port");
    pick(o.metrics_port, from_file.metrics_port, "--metrics-port");
    pick(o.model_dir, from_file.model_dir, "--model");
    pick(o.served_model_name, from_file.served_model_name, "--served-model-name");
    pick(o.device, from_file.device, "--device");
    pick(o.tensor_parallel_size, from_file.tensor_parallel_size, "--tp");
    pick(o.num_threads, from_file.num_threads, "--num-threads");
    pick(o.block_size, from_file.block_size, "--block-size");
    pick(o.kv_cache_bytes, from_file.kv_cache_bytes, "--kv-cache-bytes");
    pick(o.num_kv_blocks, from_file.num_kv_blocks, "--num-kv-blocks");
    pick(o.gpu_memory_utilization, from_file.gpu_memory_utilization, "--gpu-memory-utilization");
    pick(o.enforce_eager, from_file.enforce_eager, "--enforce-eager");
    pick(o.batch_invariant, from_file.batch_invariant, "--batch-invariant");
    pick(o.cuda_graph_budget_s, from_file.cuda_graph_budget_s, "--cuda-graph-budget");
    pick(o.collective_timeout_s, from_file.collective_timeout_s, "--collective-timeout");
    pick(o.nnodes, from_file.nnodes, "--nnodes");
    pick(o.node_rank, from_file.node_rank, "--node-rank");
    pick(o.leader_address, from_file.leader_address, "--leader-address");
    pick(o.leader_port, from_file.leader_port, "--leader-port");
    pick(o.max_num_seqs, from_file.max_num_seqs, "--max-num-seqs");
    pick(o.max_num_batched_tokens, from_file.max_num_batched_tokens, "--max-num-batched-tokens");
    pick(o.max_model_len, from_file.max_model_len, "--max-model-len");
    pick(o.max_queued_requests, from_file.max_queued_requests, "--max-queued-requests");
    pick(o.api_key_file, from_file.api_key_file, "--api-key-file");
    pick(o.tls_cert_file, from_file.tls_cert_file, "--tls-cert");
    pick(o.tls_key_file, from_file.tls_key_file, "--tls-key");
    pick(o.tls_client_ca_file, from_file.tls_client_ca_file, "--tls-client-ca");
    pick(o.shutdown_timeout_s, from_file.shutdown_timeout_s, "--shutdown-timeout");
    pick(o.log_format, from_file.log_format, "--log-format");
    pick(o.log_level, from_file.log_level, "--log-level");
    // Keys without a flag come from the file as they are.
    o.limits = from_file.limits;
    o.tokenizer_dir = from_file.tokenizer_dir;
    o.enable_prefix_caching = from_file.enable_prefix_caching;
    o.seed = from_file.seed;
    o.grpc_max_concurrent_streams = from_file.grpc_max_concurrent_streams;
    o.grpc_max_threads = from_file.grpc_max_threads;
    o.grpc_keepalive_time_ms = from_file.grpc_keepalive_time_ms;
    o.grpc_keepalive_timeout_ms = from_file.grpc_keepalive_timeout_ms;
    o.http_threads = from_file.http_threads;
    o.http_idle_timeout_s = from_file.http_idle_timeout_s;
    o.http_send_buffer_bytes = from_file.http_send_buffer_bytes;
    o.api_key_env = from_file.api_key_env;
    o.access_log = from_file.access_log;
    o.warmup = from_file.warmup;
  }
  if (flags.check_config) {
    // Parse and validate only: no listener, no model (deployment tests and CI use this).
    Status valid = o.validate();
    if (!valid.ok()) {
      std::fprintf(stderr, "pagoda serve: %s\n", valid.message().c_str());
      return 2;
    }
    std::printf("pagoda serve: configuration ok\n");
    return 0;
  }
  Status s = server::configure_logging(o.log_format, o.log_level);
  if (!s.ok()) {
    std::fprintf(stderr, "pagoda serve: %s\n", s.message().c_str());
    return 2;
  }
  if (o.model_dir.empty()) {
    o.model_dir = default_model_dir();
    Status made = ensure_demo_model(o.model_dir);
    if (!made.ok()) {
      std::fprintf(stderr, "pagoda serve: demo model: %s\n", made.message().c_str());
      return 1;
    }
    if (o.served_model_name.empty()) o.served_model_name = "demo-tiny";
  }

  // Before any thread starts, so every thread inherits the mask and the main thread takes the signal.
  server::block_termination_signals();
  if (o.nnodes > 1 && o.node_rank > 0) {
    return server::run_worker_node(o, [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    });
  }
  auto created = server::Server::create(o);
  if (!created.ok()) {
    std::fprintf(stderr, "pagoda serve: %s\n", created.status().message().c_str());
    return 2;
  }
  std::unique_ptr<server::Server> srv = std::move(created).value();
  s = srv->start([](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!s.ok()) {
    std::fprintf(stderr, "pagoda serve: %s\n", s.to_string().c_str());
    srv->shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.shutdown_timeout_s * 1000.0));
  const server::StopCause cause =
      server::wait_for_stop([&srv] { return srv->engine().runner_health(); }, std::chrono::seconds(1));
  if (cause.broken.ok()) {
    server::log_line(server::LogLevel::kInfo, "signal received, draining", {{"signal", cause.signal}});
    srv->shutdown(timeout);
    srv.reset();
    return 0;
  }
  // A broken group fails every request and cannot recover in this process:
  // exit 1 so that the orchestrator restarts the server (a liveness probe
  // would not). The step thread may be blocked for good in a step a lost
  // peer never finishes, so the drain runs on another thread, bounded, and
  // the process exits without joining anything.
  server::log_line(server::LogLevel::kError, "the engine cannot run steps again; exiting to be restarted",
                   {{"error", cause.broken.message()}});
  auto drained = std::make_shared<std::promise<void>>();
  std::future<void> done = drained->get_future();
  std::thread([&srv, timeout, drained] {
    srv->shutdown(timeout);
    drained->set_value();
  }).detach();
  if (done.wait_for(timeout + std::chrono::seconds(10)) != std::future_status::ready)
    server::log_line(server::LogLevel::kError, "the drain did not finish; exiting without it");
  std::fflush(nullptr);
  std::_Exit(1);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  server::ServeOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve a model over gRPC (pagoda.v1), an OpenAI-compatible HTTP API and Prometheus metrics");
  cmd->add_option("--model", o.model_dir, "Model directory (default: a demo model, created on first run)");
  cmd->add_option("--served-model-name", o.served_model_name,
                  "Model name in the API (default: the directory name)");
  cmd->add_option("--host", o.host, "Address to bind; 0.0.0.0 for every interface")->capture_default_str();
  cmd->add_option("--grpc-port", o.grpc_port, "gRPC port (0 picks a free port)")->capture_default_str();
  cmd->add_option("--http-port", o.http_port, "HTTP port (0 picks a free port)")->capture_default_str();
  cmd->add_option("--metrics-port", o.metrics_port, "Prometheus metrics port (0 picks a free port)")
      ->capture_default_str();
  cmd->add_option("--device", o.device, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--tp", o.tensor_parallel_size, "Tensor-parallel size")->capture_default_str();
  cmd->add_option("--nnodes", o.nnodes,
                  "Nodes (processes) in the tensor-parallel group; node 0 serves the APIs")
      ->capture_default_str();
  cmd->add_option("--node-rank", o.node_rank, "This node's index in [0, --nnodes); 0 is the leader")
      ->capture_default_str();
  cmd->add_option("--leader-address", o.leader_address, "Host name or IP of node 0 (when --nnodes > 1)");
  cmd->add_option("--leader-port", o.leader_port, "Port node 0 listens on for the other nodes")
      ->capture_default_str();
  cmd->add_option("--num-threads", o.num_threads, "CPU threads for the model (0 = all)")
      ->capture_default_str();
  cmd->add_option("--kv-cache-bytes", o.kv_cache_bytes,
                  "KV cache bytes: CPU, all ranks together (0: 1 GiB); CUDA, a cap per GPU (0: what "
                  "--gpu-memory-utilization leaves)")
      ->capture_default_str();
  cmd->add_option("--gpu-memory-utilization", o.gpu_memory_utilization,
                  "CUDA: fraction of each GPU for weights, workspaces and KV cache")
      ->capture_default_str();
  cmd->add_option("--num-kv-blocks", o.num_kv_blocks,
                  "Exact number of KV blocks (overrides --kv-cache-bytes)");
  cmd->add_flag("--enforce-eager", o.enforce_eager, "CUDA: run every step eagerly (no decode CUDA graphs)");
  cmd->add_flag(
      "--batch-invariant", o.batch_invariant,
      "CUDA: each request's tokens bit for bit the same whatever else is in the batch (slower; the CPU "
      "backend always is)");
  cmd->add_option("--cuda-graph-budget", o.cuda_graph_budget_s,
                  "CUDA: seconds of start-up for capturing decode graphs, smallest batches first; larger "
                  "batches run eagerly once it is spent (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--collective-timeout", o.collective_timeout_s,
                  "CUDA, tp > 1: seconds a rank waits for a step's collectives before it aborts the group, "
                  "for a peer stalled or cut off without NCCL noticing (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--block-size", o.block_size, "Tokens per KV block")->capture_default_str();
  cmd->add_option("--max-num-seqs", o.max_num_seqs, "Most sequences in one step")->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", o.max_num_batched_tokens,
                  "Token budget of one step (0: 512 on the CPU backend, 2048 on CUDA)")
      ->capture_default_str();
  cmd->add_option("--max-model-len", o.max_model_len, "Prompt + output limit (0: the model's)")
      ->capture_default_str();
  cmd->add_option("--max-queued-requests", o.max_queued_requests,
                  "Waiting requests before 429/RESOURCE_EXHAUSTED")
      ->capture_default_str();
  cmd->add_option("--api-key-file", o.api_key_file,
                  "File of API keys, one 'KEY [TENANT]' per line (else $PAGODA_API_KEYS='key[:tenant],...')");
  cmd->add_option("--tls-cert", o.tls_cert_file, "PEM certificate (chain): TLS for gRPC and HTTPS");
  cmd->add_option("--tls-key", o.tls_key_file, "PEM private key of --tls-cert");
  cmd->add_option("--tls-client-ca", o.tls_client_ca_file,
                  "PEM CA: require client certificates signed by it (mTLS)");
  cmd->add_option("--shutdown-timeout", o.shutdown_timeout_s,
                  "Seconds in-flight requests may take after SIGTERM")
      ->capture_default_str();
  cmd->add_option("--log-format", o.log_format, "text or json")->capture_default_str();
  cmd->add_option("--log-level", o.log_level, "debug, info, warn, error or off")->capture_default_str();
  cmd->add_option("--config", flags->config_file, "JSON file with the same keys (flags win)");
  cmd->add_flag("--check-config", flags->check_config,
                "Validate the flags and --config, then exit (0: valid, 2: the error is printed)");
  cmd->callback([flags, cmd] {
    int rc = run(*flags, *cmd);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::tools
