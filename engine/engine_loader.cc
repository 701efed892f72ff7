#include "engine/engine_loader.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "engine/cpu/cpu_model_runner.h"
#include "engine/model/checkpoint.h"
#include "engine/multinode/multi_node_model_runner.h"
#include "engine/multinode/node_group.h"
#include "engine/multinode/node_mesh.h"
#include "engine/multinode/node_worker.h"
#ifdef PAGODA_HAVE_CUDA
#include "cuda/cuda_device.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/cuda/nccl_communicator.h"
#endif

namespace pagoda {

namespace fs = std::filesystem;

namespace {
constexpr std::int64_t kDefaultCpuKvCacheBytes = 1ll << 30;
}  // namespace

std::string resolve_device(const std::string& device) {
  if (device != "auto") return device;
#ifdef PAGODA_HAVE_CUDA
  if (!cuda::list_devices().empty()) return "cuda";
#endif
  return "cpu";
}

std::int32_t default_max_num_batched_tokens(const std::string& resolved_device) {
  return resolved_device == "cuda" ? 2048 : 512;
}

namespace {

struct NodeRunner {
  std::unique_ptr<ModelRunner> runner;
  std::string report;  // backend, devices and (CUDA) the memory plan
};

// What every node of a group must agree on, named as the flags that set it.
std::vector<std::pair<std::string, std::string>> group_settings(const EngineLoadOptions& o,
                                                                const ModelConfig& c,
                                                                const std::string& device,
                                                                const EngineConfig& ec) {
  const std::string shape = std::to_string(c.hidden_size) + "/" + std::to_string(c.num_hidden_layers) + "/" +
                            std::to_string(c.num_attention_heads) + "/" +
                            std::to_string(c.num_key_value_heads) + "/" + std::to_string(c.head_dim) + "/" +
                            std::to_string(c.intermediate_size) + "/" + std::to_string(c.vocab_size);
  return {{"model shape (hidden/layers/heads/kv heads/head_dim/intermediate/vocab)", shape},
          {"--device", device},
          {"--tp", std::to_string(o.tensor_parallel_size)},
          {"--block-size", std::to_string(o.block_size)},
          {"--enforce-eager", o.enforce_eager ? "on" : "off"},
          {"--batch-invariant", o.batch_invariant ? "on" : "off"},
          {"--kv-cache-bytes", std::to_string(o.kv_cache_bytes)},
          {"--num-kv-blocks", std::to_string(o.num_kv_blocks)},
          {"--max-num-seqs", std::to_string(ec.scheduler.max_num_seqs)},
          {"--max-num-batched-tokens", std::to_string(ec.scheduler.max_num_batched_tokens)},
          {"--max-model-len", std::to_string(ec.scheduler.max_model_len)}};
}

StatusOr<std::unique_ptr<multinode::NodeGroup>> form_group(const EngineLoadOptions& o, const ModelConfig& c,
                                                           const std::string& device,
                                                           const EngineConfig& ec) {
  const NodeOptions& n = o.nodes;
  if (n.nnodes < 2) return std::unique_ptr<multinode::NodeGroup>();
  if (o.tensor_parallel_size % n.nnodes != 0) {
    return invalid_argument("--tp " + std::to_string(o.tensor_parallel_size) +
                            " is not a multiple of --nnodes " + std::to_string(n.nnodes));
  }
  multinode::NodeGroupOptions go;
  go.nnodes = n.nnodes;
  go.node_rank = n.node_rank;
  go.leader_address = n.leader_address;
  go.leader_port = n.leader_port;
  go.join_timeout = n.join_timeout;
  go.settings = group_settings(o, c, device, ec);
  return multinode::NodeGroup::create(go);
}

// This node's ranks on the chosen backend; with a group, the ranks of this
// node only, joined to the others' through it.
StatusOr<NodeRunner> make_runner(const EngineLoadOptions& o, const ModelConfig& config,
                                 std::shared_ptr<const Checkpoint> checkpoint, const std::string& device,
                                 const EngineConfig& ec, multinode::NodeGroup* group) {
  NodeRunner out;
  const int nnodes = group != nullptr ? group->nnodes() : 1;
  const int ranks_per_node = o.tensor_parallel_size / nnodes;
  const std::string where = "backend " + device + ", tp " + std::to_string(o.tensor_parallel_size) +
                            (nnodes > 1 ? " over " + std::to_string(nnodes) + " nodes" : std::string());
  if (device == "cuda") {
#ifdef PAGODA_HAVE_CUDA
    cuda::CudaRunnerOptions co;
    co.tensor_parallel_size = o.tensor_parallel_size;
    co.gpu_memory_utilization = o.gpu_memory_utilization;
    co.cuda_graphs = !o.enforce_eager;
    co.batch_invariant = o.batch_invariant;
    co.graph_capture_budget_s = o.cuda_graph_budget_s;
    co.collective_timeout_s = o.collective_timeout_s;
    co.kv_cache_bytes = o.kv_cache_bytes;
    co.num_kv_blocks = o.num_kv_blocks;
    co.limits.block_size = o.block_size;
    co.limits.max_tokens = ec.scheduler.max_num_batched_tokens;
    co.limits.max_seqs = ec.scheduler.max_num_seqs;
    co.limits.max_model_len = ec.scheduler.max_model_len;
    if (group != nullptr) {
      // The leader makes the NCCL id; every node's KV cache gets the smallest node's block count.
      std::string id;
      if (group->is_leader()) {
        PAGODA_ASSIGN_OR_RETURN(id, cuda::NcclCommunicator::new_unique_id());
      }
      PAGODA_ASSIGN_OR_RETURN(std::vector<std::string> ids, group->all_gather(id));
      co.nccl_unique_id = ids[0];
      co.first_rank = group->node_rank() * ranks_per_node;
      co.num_local_ranks = ranks_per_node;
      co.agree_num_kv_blocks = [group](std::int32_t mine) -> StatusOr<std::int32_t> {
        PAGODA_ASSIGN_OR_RETURN(std::vector<std::string> all, group->all_gather(std::to_string(mine)));
        std::int32_t least = mine;
        for (const std::string& b : all)
          least = std::min(least, static_cast<std::int32_t>(std::strtol(b.c_str(), nullptr, 10)));
        return least;
      };
    }
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<cuda::CudaModelRunner> cr,
                            cuda::CudaModelRunner::create(config, checkpoint, co));
    out.report = where + (o.batch_invariant ? ", batch-invariant" : "") + ", steps of up to " +
                 std::to_string(ec.scheduler.max_num_batched_tokens) + " tokens, " + cr->describe_graphs() +
                 "\n" + cr->memory_plan().describe();
    out.runner = std::move(cr);
#else
    (void)ranks_per_node;
    (void)ec;
    return unimplemented(
        "--device cuda: this binary was built without the CUDA backend (no nvcc at build time)");
#endif
  } else {
    cpu::CpuRunnerOptions ro;
    ro.tensor_parallel_size = o.tensor_parallel_size;
    ro.num_threads = o.num_threads;
    ro.block_size = o.block_size;
    ro.kv_cache_bytes = o.kv_cache_bytes > 0 ? o.kv_cache_bytes : kDefaultCpuKvCacheBytes;
    ro.num_kv_blocks = o.num_kv_blocks;
    std::vector<std::unique_ptr<Communicator>> comms;
    if (group != nullptr) {
      PAGODA_ASSIGN_OR_RETURN(comms,
                              multinode::connect_node_mesh(*group, ranks_per_node,
                                                           multinode::Clock::now() + o.nodes.join_timeout));
    }
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<cpu::CpuModelRunner> cr,
                            cpu::CpuModelRunner::create(config, checkpoint, ro, std::move(comms)));
    out.report = where + ", " + std::to_string(cr->kv_cache_info().num_blocks) + " KV blocks of " +
                 std::to_string(o.block_size) + " tokens, steps of up to " +
                 std::to_string(ec.scheduler.max_num_batched_tokens) + " tokens";
    out.runner = std::move(cr);
  }
  return out;
}

EngineConfig resolved_engine_config(const EngineLoadOptions& o, const ModelConfig& config,
                                    const std::string& device) {
  EngineConfig ec = o.engine;
  if (ec.scheduler.max_model_len <= 0) {
    ec.scheduler.max_model_len = static_cast<std::int32_t>(config.max_position_embeddings);
  }
  if (ec.scheduler.max_num_batched_tokens <= 0) {
    // Never below one token per running sequence.
    ec.scheduler.max_num_batched_tokens =
        std::max(default_max_num_batched_tokens(device), ec.scheduler.max_num_seqs);
  }
  return ec;
}

// What every node loads the same way, leader or worker: the checkpoint, the
// node group (when there are several nodes) and this node's ranks.
struct NodeParts {
  EngineConfig engine_config;
  std::unique_ptr<multinode::NodeGroup> group;  // null on a single node
  NodeRunner node;
};

StatusOr<NodeParts> load_node_parts(const EngineLoadOptions& o, const ModelConfig& config) {
  NodeParts out;
  const std::string device = resolve_device(o.device);
  out.engine_config = resolved_engine_config(o, config, device);
  PAGODA_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::open(o.model_dir));
  auto shared_checkpoint = std::make_shared<const Checkpoint>(std::move(checkpoint));
  PAGODA_ASSIGN_OR_RETURN(out.group, form_group(o, config, device, out.engine_config));
  PAGODA_ASSIGN_OR_RETURN(
      out.node, make_runner(o, config, shared_checkpoint, device, out.engine_config, out.group.get()));
  return out;
}

}  // namespace

StatusOr<LoadedEngine> load_engine(const EngineLoadOptions& o) {
  if (o.nodes.nnodes > 1 && o.nodes.node_rank != 0)
    return invalid_argument("--node-rank " + std::to_string(o.nodes.node_rank) +
                            " is a worker node: it runs no engine");
  LoadedEngine out;
  PAGODA_ASSIGN_OR_RETURN(out.config, load_model_config(o.model_dir));
  const std::string tok_dir = o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
  const std::string tok_path = (fs::path(tok_dir) / "tokenizer.json").string();
  if (!fs::exists(tok_path))
    return not_found(tok_path + ": not found (the model directory needs its tokenizer.json)");
  PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::load(tok_path));
  out.tokenizer = std::shared_ptr<const Tokenizer>(std::move(tokenizer));
  const std::string tc = (fs::path(tok_dir) / "tokenizer_config.json").string();
  if (fs::exists(tc)) {
    StatusOr<ChatTemplate> t = ChatTemplate::from_tokenizer_config(tc);
    if (t.ok()) {
      out.chat_template.emplace(std::move(t).value());
    } else {
      out.chat_template_error = t.status();
    }
  }
  PAGODA_ASSIGN_OR_RETURN(NodeParts parts, load_node_parts(o, out.config));
  out.backend_report = std::move(parts.node.report);
  std::unique_ptr<ModelRunner> runner = std::move(parts.node.runner);
  if (parts.group != nullptr)
    runner = std::make_unique<multinode::MultiNodeModelRunner>(std::move(runner), std::move(parts.group));
  PAGODA_ASSIGN_OR_RETURN(out.engine, Engine::create(std::move(runner), out.tokenizer, parts.engine_config));
  return out;
}

StatusOr<std::unique_ptr<multinode::NodeWorker>> load_node_worker(const EngineLoadOptions& o) {
  if (o.nodes.nnodes < 2 || o.nodes.node_rank < 1 || o.nodes.node_rank >= o.nodes.nnodes)
    return invalid_argument("a worker node needs --nnodes >= 2 and --node-rank in [1, --nnodes)");
  PAGODA_ASSIGN_OR_RETURN(ModelConfig config, load_model_config(o.model_dir));
  PAGODA_ASSIGN_OR_RETURN(NodeParts parts, load_node_parts(o, config));
  return std::make_unique<multinode::NodeWorker>(std::move(parts.node.runner), std::move(parts.group));
}

}  // namespace pagoda
