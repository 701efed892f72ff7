// CUDA tensor parallelism across two nodes for tests: the nodes are threads of
// this process on loopback, one rank each (node i on GPU i), joined as
// engine_loader joins them — the leader's NCCL id shared through the
// NodeGroup, the group's smallest KV block count.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_model_runner.h"
#include "engine/cuda/nccl_communicator.h"
#include "engine/multinode/node_group.h"
#include "tests/engine/multinode/loopback_group.h"
#include "tests/engine/test_model.h"

namespace pagoda::cuda::testing {

constexpr int kTwoNodeTp = 2;

// The group's runner options (as one process would run both ranks). Each
// rank's GEMMs take cuBLASLt's untimed pick, so the two-node group and the
// one-process group it is compared with choose the same algorithms.
inline CudaRunnerOptions two_node_options() {
  CudaRunnerOptions o;
  o.tensor_parallel_size = kTwoNodeTp;
  o.tune_gemms = false;
  o.num_kv_blocks = 64;
  o.keep_logits = true;
  o.limits.max_tokens = 64;
  o.limits.max_seqs = 4;
  o.limits.max_model_len = 256;
  return o;
}

// The runner of the node `group` stands for: its one rank on its own GPU.
inline StatusOr<std::unique_ptr<CudaModelRunner>> node_runner(const pagoda::testing::LoadedModel& m,
                                                              multinode::NodeGroup& group) {
  std::string id;
  if (group.is_leader()) {
    PAGODA_ASSIGN_OR_RETURN(id, NcclCommunicator::new_unique_id());
  }
  PAGODA_ASSIGN_OR_RETURN(std::vector<std::string> ids, group.all_gather(id));
  CudaRunnerOptions o = two_node_options();
  o.nccl_unique_id = ids[0];
  o.first_rank = group.node_rank();
  o.num_local_ranks = 1;
  o.first_device = group.node_rank();
  o.agree_num_kv_blocks = [&group](std::int32_t mine) -> StatusOr<std::int32_t> {
    PAGODA_ASSIGN_OR_RETURN(std::vector<std::string> all, group.all_gather(std::to_string(mine)));
    std::int32_t least = mine;
    for (const std::string& b : all)
      least = std::min(least, static_cast<std::int32_t>(std::stol(b)));
    return least;
  };
  return CudaModelRunner::create(m.config, m.checkpoint, o);
}

inline multinode::NodeGroupOptions two_node_group_options(int rank, int port) {
  return multinode::testing::loopback_group_options(kTwoNodeTp, rank, port, std::chrono::seconds(60));
}

}  // namespace pagoda::cuda::testing
