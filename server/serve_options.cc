#include "server/serve_options.h"

#include <functional>
#include <map>
#include <string_view>

#include "base/mapped_file.h"

namespace pagoda::server {
namespace {

using Setter = std::function<Status(const nlohmann::json&)>;

template <typename T>
Setter set_int(T* field) {
  return [field](const nlohmann::json& v) {
    if (!v.is_number_integer()) return invalid_argument("must be an integer");
    *field = v.get<T>();
    return ok_status();
  };
}

Setter set_double(double* field) {
  return [field](const nlohmann::json& v) {
    if (!v.is_number()) return invalid_argument("must be a number");
    *field = v.get<double>();
    return ok_status();
  };
}

Setter set_bool(bool* field) {
  return [field](const nlohmann::json& v) {
    if (!v.is_boolean()) return invalid_argument("must be true or false");
    *field = v.get<bool>();
    return ok_status();
  };
}

Setter set_string(std::string* field) {
  return [field](const nlohmann::json& v) {
    if (!v.is_string()) return invalid_argument("must be a string");
    *field = v.get<std::string>();
    return ok_status();
  };
}

std::map<std::string, Setter, std::less<>> setters(ServeOptions& o) {
  RequestLimits& l = o.limits;
  return {
      {"host", set_string(&o.host)},
      {"grpc_port", set_int(&o.grpc_port)},
      {"http_port", set_int(&o.http_port)},
      {"metrics_port", set_int(&o.metrics_port)},
      {"model", set_string(&o.model_dir)},
      {"served_model_name", set_string(&o.served_model_name)},
      {"tokenizer", set_string(&o.tokenizer_dir)},
      {"device", set_string(&o.device)},
      {"tp", set_int(&o.tensor_parallel_size)},
      {"num_threads", set_int(&o.num_threads)},
      {"block_size", set_int(&o.block_size)},
      {"kv_cache_bytes", set_int(&o.kv_cache_bytes)},
      {"num_kv_blocks", set_int(&o.num_kv_blocks)},
      {"gpu_memory_utilization", set_double(&o.gpu_memory_utilization)},
      {"enforce_eager", set_bool(&o.enforce_eager)},
      {"batch_invariant", set_bool(&o.batch_invariant)},
      {"cuda_graph_budget", set_double(&o.cuda_graph_budget_s)},
      {"collective_timeout", set_double(&o.collective_timeout_s)},
      {"nnodes", set_int(&o.nnodes)},
      {"node_rank", set_int(&o.node_rank)},
      {"leader_address", set_string(&o.leader_address)},
      {"leader_port", set_int(&o.leader_port)},
      {"max_num_seqs", set_int(&o.max_num_seqs)},
      {"max_num_batched_tokens", set_int(&o.max_num_batched_tokens)},
      {"max_model_len", set_int(&o.max_model_len)},
      {"max_queued_requests", set_int(&o.max_queued_requests)},
      {"enable_prefix_caching", set_bool(&o.enable_prefix_caching)},
      {"seed", set_int(&o.seed)},
      {"max_n", set_int(&l.max_n)},
      {"max_stop_strings", set_int(&l.max_stop_strings)},
      {"max_stop_string_bytes", set_int(&l.max_stop_string_bytes)},
      {"max_logit_bias", set_int(&l.max_logit_bias)},
      {"max_tools", set_int(&l.max_tools)},
      {"max_tools_bytes", set_int(&l.max_tools_bytes)},
      {"max_messages", set_int(&l.max_messages)},
      {"max_prompt_bytes", set_int(&l.max_prompt_bytes)},
      {"max_body_bytes", set_int(&l.max_body_bytes)},
      {"max_header_bytes", set_int(&l.max_header_bytes)},
      {"max_stream_buffer_bytes", set_int(&l.max_stream_buffer_bytes)},
      {"grpc_max_concurrent_streams", set_int(&o.grpc_max_concurrent_streams)},
      {"grpc_max_threads", set_int(&o.grpc_max_threads)},
      {"grpc_keepalive_time_ms", set_int(&o.grpc_keepalive_time_ms)},
      {"grpc_keepalive_timeout_ms", set_int(&o.grpc_keepalive_timeout_ms)},
      {"http_threads", set_int(&o.http_threads)},
      {"http_idle_timeout_s", set_int(&o.http_idle_timeout_s)},
      {"http_send_buffer_bytes", set_int(&o.http_send_buffer_bytes)},
      {"api_key_file", set_string(&o.api_key_file)},
      {"api_key_env", set_string(&o.api_key_env)},
      {"tls_cert", set_string(&o.tls_cert_file)},
      {"tls_key", set_string(&o.tls_key_file)},
      {"tls_client_ca", set_string(&o.tls_client_ca_file)},
      {"shutdown_timeout", set_double(&o.shutdown_timeout_s)},
      {"log_format", set_string(&o.log_format)},
      {"log_level", set_string(&o.log_level)},
      {"access_log", set_bool(&o.access_log)},
      {"warmup", set_bool(&o.warmup)},
  };
}

bool valid_port(int port) {
  return port >= 0 && port <= 65535;
}

}  // namespace

Status ServeOptions::validate() const {
  if (!valid_port(grpc_port)) return invalid_argument("--grpc-port must be in [0, 65535]");
  if (!valid_port(http_port)) return invalid_argument("--http-port must be in [0, 65535]");
  if (!valid_port(metrics_port)) return invalid_argument("--metrics-port must be in [0, 65535]");
  if (host.empty()) return invalid_argument("--host must not be empty");
  if (device != "cpu" && device != "cuda" && device != "auto")
    return invalid_argument("--device must be cpu, cuda or auto (got '" + device + "')");
#ifndef PAGODA_HAVE_CUDA
  if (device == "cuda") {
    return invalid_argument(
        "--device 'cuda' is not available in this build (compiled without the CUDA backend: no nvcc at build "
        "time)");
  }
#endif
  if (tensor_parallel_size < 1 || tensor_parallel_size > 64)
    return invalid_argument("--tp must be in [1, 64]");
  if (nnodes < 1 || nnodes > 64) return invalid_argument("--nnodes must be in [1, 64]");
  if (node_rank < 0 || node_rank >= nnodes) {
    return invalid_argument("--node-rank must be in [0, --nnodes) (got " + std::to_string(node_rank) + ")");
  }
  if (leader_port < 1 || leader_port > 65535) return invalid_argument("--leader-port must be in [1, 65535]");
  if (nnodes > 1) {
    if (leader_address.empty()) return invalid_argument("--leader-address is required when --nnodes > 1");
    if (tensor_parallel_size % nnodes != 0) {
      return invalid_argument("--tp must be a multiple of --nnodes (each node runs tp / nnodes ranks)");
    }
  }
  if (block_size < 1 || block_size > 1024) return invalid_argument("--block-size must be in [1, 1024]");
  if (kv_cache_bytes < 0) return invalid_argument("--kv-cache-bytes must not be negative");
  if (!(gpu_memory_utilization > 0.0 && gpu_memory_utilization <= 1.0))
    return invalid_argument("--gpu-memory-utilization must be in (0, 1]");
  if (num_kv_blocks < 0) return invalid_argument("--num-kv-blocks must not be negative");
  if (!(cuda_graph_budget_s >= 0.0 && cuda_graph_budget_s <= 3600.0))
    return invalid_argument("--cuda-graph-budget must be in [0, 3600] seconds");
  if (!(collective_timeout_s >= 0.0 && collective_timeout_s <= 86400.0))
    return invalid_argument("--collective-timeout must be in [0, 86400] seconds");
  if (max_num_seqs < 1) return invalid_argument("--max-num-seqs must be at least 1");
  if (max_num_batched_tokens < 0)
    return invalid_argument("--max-num-batched-tokens must be at least 1 (or 0 for the backend's default)");
  if (max_model_len < 0) return invalid_argument("--max-model-len must not be negative");
  if (max_queued_requests < 1) return invalid_argument("--max-queued-requests must be at least 1");
  if (limits.max_n < 1) return invalid_argument("max_n must be at least 1");
  if (limits.max_body_bytes < 1024) return invalid_argument("max_body_bytes must be at least 1024");
  if (limits.max_header_bytes < 1024) return invalid_argument("max_header_bytes must be at least 1024");
  if (http_send_buffer_bytes < 0) return invalid_argument("http_send_buffer_bytes must not be negative");
  if (limits.max_stream_buffer_bytes < 4096)
    return invalid_argument("max_stream_buffer_bytes must be at least 4096");
  if (grpc_max_threads < 2) return invalid_argument("grpc_max_threads must be at least 2");
  if (http_threads < 1 || http_threads > 256) return invalid_argument("http_threads must be in [1, 256]");
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return invalid_argument("--tls-cert and --tls-key must be given together");
  }
  if (!tls_client_ca_file.empty() && tls_cert_file.empty()) {
    return invalid_argument("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (!(shutdown_timeout_s >= 0.0)) return invalid_argument("--shutdown-timeout must not be negative");
  if (log_format != "text" && log_format != "json")
    return invalid_argument("--log-format must be text or json");
  return ok_status();
}

EngineLoadOptions ServeOptions::engine_load_options() const {
  EngineLoadOptions lo;
  lo.model_dir = model_dir;
  lo.tokenizer_dir = tokenizer_dir;
  lo.device = device;
  lo.tensor_parallel_size = tensor_parallel_size;
  lo.num_threads = num_threads;
  lo.block_size = block_size;
  lo.kv_cache_bytes = kv_cache_bytes;
  lo.gpu_memory_utilization = gpu_memory_utilization;
  lo.num_kv_blocks = num_kv_blocks;
  lo.enforce_eager = enforce_eager;
  lo.batch_invariant = batch_invariant;
  lo.cuda_graph_budget_s = cuda_graph_budget_s;
  lo.collective_timeout_s = collective_timeout_s;
  SchedulerConfig& sc = lo.engine.scheduler;
  sc.max_num_seqs = max_num_seqs;
  sc.max_num_batched_tokens = max_num_batched_tokens;
  sc.max_model_len = max_model_len;  // 0: the model's max_position_embeddings
  sc.max_queued_requests = max_queued_requests;
  sc.enable_prefix_caching = enable_prefix_caching;
  sc.seed = seed;
  lo.engine.max_stop_strings = limits.max_stop_strings;
  lo.engine.max_stop_string_bytes = limits.max_stop_string_bytes;
  lo.nodes.nnodes = nnodes;
  lo.nodes.node_rank = node_rank;
  lo.nodes.leader_address = leader_address;
  lo.nodes.leader_port = leader_port;
  return lo;
}

Status apply_config_json(const nlohmann::json& config, ServeOptions& options) {
  if (!config.is_object()) return invalid_argument("the config must be a JSON object");
  auto table = setters(options);
  for (const auto& [raw_key, value] : config.items()) {
    std::string key = raw_key;
    for (char& c : key)
      if (c == '-') c = '_';
    auto it = table.find(key);
    if (it == table.end()) return invalid_argument("unknown key \"" + raw_key + "\"");
    Status s = it->second(value);
    if (!s.ok()) return invalid_argument("\"" + raw_key + "\" " + s.message());
  }
  return ok_status();
}

Status apply_config_file(const std::string& path, ServeOptions& options) {
  PAGODA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return invalid_argument(path + ": not valid JSON");
  return apply_config_json(config, options).with_context(path);
}

}  // namespace pagoda::server
