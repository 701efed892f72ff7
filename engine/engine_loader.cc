#include "engine/engine_loader.h"

#include <filesystem>

#include "engine/cpu/cpu_model_runner.h"
#include "engine/model/checkpoint.h"
#ifdef PAGODA_HAVE_CUDA
#include "cuda/cuda_device.h"
#include "engine/cuda/cuda_model_runner.h"
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

StatusOr<LoadedEngine> load_engine(const EngineLoadOptions& o) {
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
  EngineConfig ec = o.engine;
  if (ec.scheduler.max_model_len <= 0) {
    ec.scheduler.max_model_len = static_cast<std::int32_t>(out.config.max_position_embeddings);
  }
  PAGODA_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::open(o.model_dir));
  auto shared_checkpoint = std::make_shared<const Checkpoint>(std::move(checkpoint));
  std::unique_ptr<ModelRunner> runner;
  const std::string device = resolve_device(o.device);
  if (device == "cuda") {
#ifdef PAGODA_HAVE_CUDA
    cuda::CudaRunnerOptions co;
    co.tensor_parallel_size = o.tensor_parallel_size;
    co.gpu_memory_utilization = o.gpu_memory_utilization;
    co.kv_cache_bytes = o.kv_cache_bytes;
    co.num_kv_blocks = o.num_kv_blocks;
    co.limits.block_size = o.block_size;
    co.limits.max_tokens = ec.scheduler.max_num_batched_tokens;
    co.limits.max_seqs = ec.scheduler.max_num_seqs;
    co.limits.max_model_len = ec.scheduler.max_model_len;
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<cuda::CudaModelRunner> cr,
                            cuda::CudaModelRunner::create(out.config, shared_checkpoint, co));
    out.backend_report = "backend cuda, tp " + std::to_string(o.tensor_parallel_size) + ", " +
                         std::to_string(cr->num_graphs()) + " decode CUDA graphs captured in " +
                         std::to_string(static_cast<int>(cr->graph_capture_seconds() * 1000)) + " ms\n" +
                         cr->memory_plan().describe();
    runner = std::move(cr);
#else
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
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<cpu::CpuModelRunner> cr,
                            cpu::CpuModelRunner::create(out.config, shared_checkpoint, ro));
    out.backend_report = "backend cpu, tp " + std::to_string(o.tensor_parallel_size) + ", " +
                         std::to_string(cr->kv_cache_info().num_blocks) + " KV blocks of " +
                         std::to_string(o.block_size) + " tokens";
    runner = std::move(cr);
  }
  PAGODA_ASSIGN_OR_RETURN(out.engine, Engine::create(std::move(runner), out.tokenizer, ec));
  return out;
}

}  // namespace pagoda
