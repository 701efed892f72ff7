// Builds a running Engine from a Hugging Face model directory: config,
// checkpoint (validated), tokenizer, chat template and the backend's
// ModelRunner. Shared by `pagoda generate` and `pagoda serve`. Called from one
// thread at start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/chat/chat_template.h"
#include "engine/engine.h"
#include "engine/model/model_config.h"
#include "engine/tokenizer/tokenizer.h"

namespace pagoda {

// One tensor-parallel group over several nodes (processes): node 0, the
// leader, runs the Engine; the others run NodeWorkers (load_node_worker).
struct NodeOptions {
  int nnodes = 1;
  int node_rank = 0;
  std::string leader_address;  // how the workers reach node 0
  int leader_port = 29500;
  std::chrono::milliseconds join_timeout{std::chrono::minutes(10)};
};

struct EngineLoadOptions {
  std::string model_dir;
  std::string tokenizer_dir;    // "" = model_dir
  std::string device = "auto";  // cpu, cuda or auto
  int tensor_parallel_size = 1;
  int num_threads = 0;  // CPU backend; 0 = all
  int block_size = 16;
  // CPU: all ranks together (0: 1 GiB); CUDA: a cap per GPU (0: what
  // gpu_memory_utilization leaves).
  std::int64_t kv_cache_bytes = 0;
  int num_kv_blocks = 0;                // exact count; overrides kv_cache_bytes
  double gpu_memory_utilization = 0.9;  // CUDA: fraction of each GPU this process may use
  bool enforce_eager = false;           // CUDA: no decode graphs, every step eager
  bool batch_invariant = false;         // CUDA: the batch-invariant mode (the CPU backend always is)
  double cuda_graph_budget_s = 60;      // CUDA: start-up seconds for capturing graphs (0: no limit)
  double collective_timeout_s = 600;    // CUDA with a communicator: seconds a rank waits for a step's
                                        // collectives before it aborts the group (0: no limit)
  NodeOptions nodes;                    // tensor_parallel_size counts the ranks of every node
  // Scheduler limits and text limits. max_model_len 0 = the model's
  // max_position_embeddings; max_num_batched_tokens 0 = the backend's default
  // (default_max_num_batched_tokens); num_blocks, block_size and eos ids are
  // filled in.
  EngineConfig engine;
};

// A step's token budget when none is given: 512 on the CPU backend, 2048 on
// CUDA. A step is as slow as the tokens it computes, and every running stream
// waits for it: on the CPU a 2,048-token step takes seconds (docs/performance.md,
// 2026-11-29: median TTFT 5.1 s at 2,048 vs 2.6 s at 512 with no loss of
// throughput), on a GPU about 10 ms.
std::int32_t default_max_num_batched_tokens(const std::string& resolved_device);

// The backend a device flag resolves to: "auto" is cuda when this build has
// the CUDA backend and a GPU is visible, else cpu.
std::string resolve_device(const std::string& device);

struct LoadedEngine {
  ModelConfig config;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;  // absent when tokenizer_config.json has none
  Status chat_template_error;                 // why it is absent, when the file exists
  std::string backend_report;  // backend, devices and (CUDA) the memory plan, for start-up logs
  std::unique_ptr<Engine> engine;
};

// On node 0 of a multi-node group this waits for every worker node to join.
StatusOr<LoadedEngine> load_engine(const EngineLoadOptions& options);

namespace multinode {
class NodeWorker;
}

// A worker node (nodes.node_rank > 0): loads this node's ranks and joins the
// leader's group. Run the result until the leader stops the group.
StatusOr<std::unique_ptr<multinode::NodeWorker>> load_node_worker(const EngineLoadOptions& options);

}  // namespace pagoda
