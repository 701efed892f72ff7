// ServeOptions: everything `pagoda serve` is configured with — listeners, the
// model and backend, scheduler limits, request limits, security and logging —
// from flags or a JSON --config file with the same keys. Plain value, built once
// at start-up on the main thread and read-only afterwards.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/engine_loader.h"

namespace pagoda::server {

// Per-request limits the front ends enforce before anything reaches the engine.
struct RequestLimits {
  std::int32_t max_n = 16;                   // choices per request
  std::int32_t max_stop_strings = 16;        // stop strings per request
  std::int32_t max_stop_string_bytes = 256;  // bytes per stop string
  std::int32_t max_stop_token_ids = 64;
  std::int32_t max_logit_bias = 1024;               // entries
  std::int32_t max_tools = 128;                     // tool definitions
  std::int64_t max_tools_bytes = 256 * 1024;        // tools serialized
  std::int32_t max_messages = 1024;                 // chat messages
  std::int64_t max_prompt_bytes = 4 * 1024 * 1024;  // text of a prompt (or rendered chat)
  std::int64_t max_body_bytes = 8 * 1024 * 1024;    // HTTP body (gRPC: max message size)
  std::int32_t max_header_bytes = 16 * 1024;        // HTTP request line + headers
  std::int32_t max_json_depth = 64;                 // nesting of a request body
  std::int32_t max_request_id_bytes = 128;
  std::int32_t max_detokenize_ids = 1 << 20;
  // Output a stream may have queued for a client that is not reading it; past
  // this the request is aborted (the slow client cannot grow memory or hold KV).
  std::int64_t max_stream_buffer_bytes = 4 * 1024 * 1024;
};

struct ServeOptions {
  // Listeners. Port 0 picks a free port; the chosen one is printed at start-up.
  std::string host = "127.0.0.1";
  int grpc_port = 50051;
  int http_port = 8000;
  int metrics_port = 9090;
  bool enable_grpc = true;
  bool enable_http = true;
  bool enable_metrics = true;

  // Model and backend.
  std::string model_dir;          // "" -> the demo model (created on first run by the serve command)
  std::string served_model_name;  // "" -> the model directory's name
  std::string tokenizer_dir;      // "" -> model_dir
  std::string device = "cpu";
  int tensor_parallel_size = 1;
  int num_threads = 0;  // CPU threads for the model, 0 = all
  int block_size = 16;
  std::int64_t kv_cache_bytes =
      0;  // 0 -> the backend's default (CPU 1 GiB; CUDA what the utilization leaves)
  double gpu_memory_utilization = 0.9;  // CUDA: fraction of each GPU this process may use
  int num_kv_blocks = 0;                // overrides kv_cache_bytes when > 0
  bool enforce_eager = false;           // CUDA: no decode graphs, every step eager
  bool batch_invariant = false;         // CUDA: the batch-invariant mode (the CPU backend always is)
  double cuda_graph_budget_s = 60;      // CUDA: start-up seconds for capturing graphs (0: no limit)
  double collective_timeout_s = 600;    // CUDA, tp > 1: seconds a rank waits for a step's collectives
                                        // before it aborts the group (0: no limit)

  // Multi-node tensor parallelism: one process per node, --tp counts the ranks of
  // all nodes together (tp / nnodes per node). Node 0 (the leader) serves the
  // APIs, plans every step and listens on leader_port for the other nodes,
  // which run their ranks only (docs/multinode.md).
  int nnodes = 1;
  int node_rank = 0;
  std::string leader_address;  // host name or IP of node 0; required when nnodes > 1
  int leader_port = 29500;

  // Scheduler.
  int max_num_seqs = 256;
  int max_num_batched_tokens = 0;  // 0: the backend's default (default_max_num_batched_tokens)
  int max_model_len = 0;           // 0 -> the model's max_position_embeddings
  int max_queued_requests = 4096;
  bool enable_prefix_caching = true;
  std::uint64_t seed = 0x5eed;

  RequestLimits limits;

  // gRPC transport.
  int grpc_max_concurrent_streams = 1024;
  int grpc_max_threads = 16;  // resource quota thread cap
  int grpc_keepalive_time_ms = 60'000;
  int grpc_keepalive_timeout_ms = 20'000;

  // HTTP.
  int http_threads = 2;  // io_context threads
  int http_idle_timeout_s = 60;
  int http_send_buffer_bytes = 0;  // SO_SNDBUF of each connection; 0 keeps the kernel's autotuning

  // Security. API keys: a file of lines "key" or "key tenant" (# comments), or
  // the environment variable's value "key[:tenant],key[:tenant]". None: open.
  std::string api_key_file;
  std::string api_key_env = "PAGODA_API_KEYS";
  std::string tls_cert_file;  // PEM; with tls_key_file turns on TLS for gRPC and HTTPS
  std::string tls_key_file;
  std::string tls_client_ca_file;  // set: clients must present a certificate signed by it (mTLS)

  // Lifecycle and logging.
  double shutdown_timeout_s = 30.0;
  std::string log_format = "text";  // "text" or "json"
  std::string log_level = "info";
  bool access_log = true;
  bool warmup = true;

  Status validate() const;
  // What load_engine / load_node_worker need from these options.
  EngineLoadOptions engine_load_options() const;
};

// Applies the keys of a JSON object (the --config file) onto `options`. Keys
// are the flag names without dashes, with '_' or '-' ("grpc_port",
// "max-num-seqs"); unknown keys and wrong types are errors naming the key.
Status apply_config_json(const nlohmann::json& config, ServeOptions& options);
Status apply_config_file(const std::string& path, ServeOptions& options);

}  // namespace pagoda::server
