#include "tools/model_loader.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"
#include "tools/data_dirs.h"

namespace pagoda::tools {

namespace fs = std::filesystem;

void add_engine_flags(CLI::App& cmd, EngineFlags& f) {
  cmd.add_option("--model,-m", f.model,
                 "Hugging Face model directory (default: a demo model, made on first use)");
  cmd.add_option("--device", f.device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  cmd.add_option("--tp", f.tp, "Tensor-parallel size")->check(CLI::Range(1, 64))->capture_default_str();
  cmd.add_option("--threads", f.threads, "CPU threads for the CPU backend (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--block-size", f.block_size, "Tokens per KV-cache block")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd.add_option("--kv-cache-bytes", f.kv_cache_bytes,
                 "KV cache bytes: CPU, all ranks together (0: 1 GiB); CUDA, a cap per GPU (0: what "
                 "--gpu-memory-utilization leaves)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--gpu-memory-utilization", f.gpu_memory_utilization,
                 "CUDA: fraction of each GPU for weights, workspaces and KV cache")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  cmd.add_flag("--enforce-eager", f.enforce_eager, "CUDA: run every step eagerly (no decode CUDA graphs)");
  cmd.add_flag(
      "--batch-invariant", f.batch_invariant,
      "CUDA: each request's tokens bit for bit the same whatever else is in the batch (slower; the CPU "
      "backend always is)");
  cmd.add_option("--cuda-graph-budget", f.cuda_graph_budget_s,
                 "CUDA: seconds of start-up for capturing decode graphs, smallest batches first; larger "
                 "batches run eagerly once it is spent (0: no limit)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd.add_option("--num-kv-blocks", f.num_kv_blocks,
                 "Exact number of KV-cache blocks (overrides --kv-cache-bytes)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--max-num-seqs", f.max_num_seqs, "Most sequences in one step")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd.add_option("--max-num-batched-tokens", f.max_num_batched_tokens,
                 "Token budget of one step (0: 512 on the CPU backend, 2048 on CUDA)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd.add_option("--max-model-len", f.max_model_len, "Longest prompt + output (default: the model's)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--max-queued-requests", f.max_queued_requests,
                 "Queued requests before new ones are refused")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  cmd.add_flag("--no-prefix-caching", f.no_prefix_caching, "Disable prefix caching");
}

StatusOr<std::string> resolve_model_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::string dir = default_model_dir();
  if (fs::exists(fs::path(dir) / "config.json")) return dir;
  PAGODA_ASSIGN_OR_RETURN(std::string tok_dir, find_tokenizer_dir());
  RandomCheckpointOptions o;
  PAGODA_ASSIGN_OR_RETURN(o.config, model_preset("tiny"));
  o.seed = 0;
  o.out_dir = dir;
  o.tokenizer_dir = tok_dir;
  std::fprintf(stderr,
               "pagoda: no --model given; writing the demo model (random weights, tiny preset) to %s\n",
               dir.c_str());
  PAGODA_RETURN_IF_ERROR(write_random_checkpoint(o));
  return dir;
}

StatusOr<std::shared_ptr<const Tokenizer>> load_tokenizer(const std::string& model_dir) {
  std::string path = (fs::path(model_dir) / "tokenizer.json").string();
  if (!fs::exists(path))
    return not_found(path + ": not found (the model directory needs its tokenizer.json)");
  PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::load(path));
  return std::shared_ptr<const Tokenizer>(std::move(tok));
}

StatusOr<LoadedEngine> load_engine_from_flags(const EngineFlags& f) {
  EngineLoadOptions o;
  PAGODA_ASSIGN_OR_RETURN(o.model_dir, resolve_model_dir(f.model));
  o.device = f.device;
  o.tensor_parallel_size = f.tp;
  o.num_threads = f.threads;
  o.block_size = f.block_size;
  o.kv_cache_bytes = f.kv_cache_bytes;
  o.gpu_memory_utilization = f.gpu_memory_utilization;
  o.enforce_eager = f.enforce_eager;
  o.batch_invariant = f.batch_invariant;
  o.cuda_graph_budget_s = f.cuda_graph_budget_s;
  o.num_kv_blocks = f.num_kv_blocks;
  SchedulerConfig& sc = o.engine.scheduler;
  sc.max_num_seqs = f.max_num_seqs;
  // 0 stays 0: the loader picks the backend's default (never below max_num_seqs).
  sc.max_num_batched_tokens =
      f.max_num_batched_tokens > 0 ? std::max(f.max_num_batched_tokens, f.max_num_seqs) : 0;
  sc.max_model_len = f.max_model_len;
  sc.max_queued_requests = f.max_queued_requests;
  sc.enable_prefix_caching = !f.no_prefix_caching;
  return load_engine(o);
}

}  // namespace pagoda::tools
