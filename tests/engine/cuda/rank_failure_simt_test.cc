// A rank of a tensor-parallel group that fails a step must not leave the
// others waiting forever for a collective it never reaches: the step fails on
// every rank with the failed rank's error, the group is aborted, and the
// runner reports itself broken. On one GPU, a failed step fails alone unless
// it left the device faulted. The failures are injected into the SIMT
// emulator (a launch refused on one device, a device fault, streams held
// busy), so these tests run there only.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <stop_token>
#include <thread>

#include "cuda/cublaslt_gemm.h"
#include "engine/cpu/cpu_weights.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/cuda/cuda_rank.h"
#include "engine/cuda/cuda_weights.h"
#include "engine/cuda/nccl_communicator.h"
#include "engine/engine.h"
#include "engine/flat_step.h"
#include "engine/multinode/multi_node_model_runner.h"
#include "engine/multinode/node_worker.h"
#include "tests/cuda/simt/simt_runtime.h"
#include "tests/engine/cpu/model_driver.h"
#include "tests/engine/cuda/two_node_runner.h"
#include "tests/engine/stream_sink.h"
#include "tests/engine/test_model.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace pagoda::cuda {
namespace {

using pagoda::testing::byte_tokenizer;
using pagoda::testing::DriverSeq;
using pagoda::testing::kShapes;
using pagoda::testing::LoadedModel;
using pagoda::testing::make_model;
using pagoda::testing::ModelDriver;
using pagoda::testing::prompt_of;
using pagoda::testing::StreamSink;

// Ends the process with a message if the test is still running after
// `seconds`: a hang is what these tests look for, and it should fail fast
// and say so rather than wait for ctest's timeout.
class Watchdog {
 public:
  explicit Watchdog(int seconds)
      : thread_([this, seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
            std::fprintf(stderr, "a rank is still waiting after %d s: the group hangs\n", seconds);
            std::_Exit(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// The tests' runner: `tp` ranks (devices 0..tp-1), small step limits.
CudaRunnerOptions runner_options(const LoadedModel& m, int tp) {
  CudaRunnerOptions o;
  o.tensor_parallel_size = tp;
  o.tune_gemms = false;  // no timing launches: each case's launch count falls where it says
  o.num_kv_blocks = 256;
  o.limits.max_tokens = 256;
  o.limits.max_seqs = 8;
  o.limits.max_model_len = static_cast<std::int32_t>(m.config.max_position_embeddings);
  return o;
}

std::unique_ptr<CudaModelRunner> make_runner(const LoadedModel& m, const CudaRunnerOptions& o) {
  auto r = CudaModelRunner::create(m.config, m.checkpoint, o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::unique_ptr<CudaModelRunner> two_rank_runner(const LoadedModel& m, bool graphs,
                                                 double collective_timeout_s = 600) {
  CudaRunnerOptions o = runner_options(m, 2);
  o.cuda_graphs = graphs;
  o.collective_timeout_s = collective_timeout_s;
  return make_runner(m, o);
}

struct FailureCase {
  const char* name;
  int device;           // the rank (device) whose launch is refused
  int launches_before;  // how many of its launches in the failing step succeed first
  bool graphs;          // the failing step replays a captured decode graph
};

class RankFailureTest : public ::testing::TestWithParam<FailureCase> {};

// A prefill step runs on both ranks; then one rank's launch is refused in a
// decode step, before or between its collectives.
TEST_P(RankFailureTest, FailsTheStepOnEveryRankAndBreaksTheGroup) {
  const FailureCase& c = GetParam();
  const Watchdog watchdog(120);
  LoadedModel m = make_model(kShapes[3], "cuda");
  auto runner = two_rank_runner(m, c.graphs);
  ASSERT_NE(runner, nullptr);
  ModelDriver driver(*runner, 7);
  const int v = m.config.vocab_size;
  DriverSeq& a = driver.add(prompt_of(23, v, 1));
  DriverSeq& b = driver.add(prompt_of(5, v, 2));
  auto prefill = driver.step({{&a, 0}, {&b, 0}});
  ASSERT_TRUE(prefill.ok()) << prefill.status().to_string();
  EXPECT_TRUE(runner->health().ok());

  simt::inject_launch_failure(c.device, c.launches_before);
  auto failed = driver.step({{&a, 0}, {&b, 0}});
  ASSERT_FALSE(failed.ok()) << "the refused launch went unnoticed";
  // The error is the failed rank's own, not a peer's giving up on it.
  EXPECT_NE(failed.status().code(), StatusCode::kAborted) << failed.status().to_string();
  EXPECT_NE(failed.status().message().find("rank " + std::to_string(c.device)), std::string::npos)
      << failed.status().to_string();
  EXPECT_NE(failed.status().message().find("cudaErrorLaunchOutOfResources"), std::string::npos)
      << failed.status().to_string();

  const Status health = runner->health();
  EXPECT_EQ(health.code(), StatusCode::kUnavailable) << health.to_string();
  EXPECT_NE(health.message().find("cudaErrorLaunchOutOfResources"), std::string::npos) << health.to_string();
  // Later steps are refused without running (the communicators are gone).
  auto after = driver.step({{&a, 0}, {&b, 0}});
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable) << after.status().to_string();
  runner.reset();  // shuts down cleanly, with aborted communicators
}

INSTANTIATE_TEST_SUITE_P(Cases, RankFailureTest,
                         ::testing::Values(FailureCase{"rank1_first_launch_eager", 1, 0, false},
                                           FailureCase{"rank1_mid_step_eager", 1, 7, false},
                                           FailureCase{"rank0_mid_step_eager", 0, 7, false},
                                           FailureCase{"rank1_graph_replay", 1, 0, true},
                                           FailureCase{"rank0_graph_replay", 0, 0, true}),
                         [](const auto& p) { return std::string(p.param.name); });

// A rank whose group has failed stops enqueuing its step at the next layer:
// on a GPU its collectives could never complete, and an eager step of a deep
// model could fill the launch queue behind one and block its thread inside a
// launch, where it would never poll. The emulator runs a collective on its
// rank's thread at once, so the group tests above cannot tell; here one rank
// runs a step, then, with its group's stop asked, another step whose launches
// after the first two (the RoPE table and the embedding) are refused: it ends
// before the first layer's with kAborted, not with the refused launch.
TEST(RankFailureTest, RankStopsEnqueuingOnceItsGroupFailed) {
  const Watchdog watchdog(120);
  LoadedModel m = make_model(kShapes[3], "cuda");
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  auto shard = cpu::RankShard::make(m.config, 0, 1);
  ASSERT_TRUE(shard.ok()) << shard.status().to_string();
  auto host = cpu::CpuWeights::create(m.config, m.checkpoint, *shard);
  ASSERT_TRUE(host.ok()) << host.status().to_string();
  auto weights = CudaWeights::upload(m.config, **host);
  ASSERT_TRUE(weights.ok()) << weights.status().to_string();
  auto gemm = CublasLtGemm::create(1u << 20);
  ASSERT_TRUE(gemm.ok()) << gemm.status().to_string();
  CudaStepLimits limits;
  limits.max_tokens = 64;
  limits.max_seqs = 4;
  limits.max_model_len = static_cast<std::int32_t>(m.config.max_position_embeddings);
  CudaKernelChoices choices;
  choices.tune_gemms = false;
  std::stop_source group_failed;
  auto rank = CudaRank::create(m.config, *shard, std::move(weights).value(), std::move(gemm).value(), nullptr,
                               limits, 8, choices, CollectiveWait{group_failed.get_token(), 0});
  ASSERT_TRUE(rank.ok()) << rank.status().to_string();

  const std::vector<std::int32_t> prompt = prompt_of(9, m.config.vocab_size, 3);
  const std::vector<std::int32_t> blocks = {2};
  SamplingParams greedy;
  greedy.temperature = 0;
  StepPlan plan;
  ScheduledSequence& seq = plan.sequences.emplace_back();
  seq.request_id = 1;
  seq.token_ids = prompt;
  seq.num_prompt_tokens = 9;
  seq.num_tokens = 9;
  seq.block_table = blocks;
  seq.sample = true;
  seq.sampling = &greedy;
  plan.num_batched_tokens = 9;
  auto step = flatten_step(plan, limits.block_size);
  ASSERT_TRUE(step.ok()) << step.status().to_string();
  ASSERT_TRUE((*rank)->forward(*step, false).ok());

  group_failed.request_stop();
  simt::inject_launch_failure(0, 2);
  const Status stopped = (*rank)->forward(*step, false);
  simt::inject_launch_failure(0, -1);
  EXPECT_EQ(stopped.code(), StatusCode::kAborted) << stopped.to_string();
  EXPECT_NE(stopped.message().find("stopped enqueuing its step at layer 0"), std::string::npos)
      << stopped.to_string();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// A rank whose stream never finishes (a peer stalled or cut off without
// NCCL noticing: here the emulator holds rank 1's streams busy) gives up
// after the collective timeout and aborts the group.
TEST(RankFailureTest, StalledRankTimesOutAndBreaksTheGroup) {
  const Watchdog watchdog(120);
  LoadedModel m = make_model(kShapes[3], "cuda");
  auto runner = two_rank_runner(m, /*graphs=*/false, /*collective_timeout_s=*/0.3);
  ASSERT_NE(runner, nullptr);
  ModelDriver driver(*runner, 7);
  DriverSeq& a = driver.add(prompt_of(23, m.config.vocab_size, 1));
  auto prefill = driver.step({{&a, 0}});
  ASSERT_TRUE(prefill.ok()) << prefill.status().to_string();

  simt::hold_device_streams(1, true);
  const auto t0 = std::chrono::steady_clock::now();
  auto stalled = driver.step({{&a, 0}});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  simt::hold_device_streams(1, false);
  ASSERT_FALSE(stalled.ok());
  EXPECT_EQ(stalled.status().code(), StatusCode::kDeadlineExceeded) << stalled.status().to_string();
  EXPECT_NE(stalled.status().message().find("rank 1's collectives did not finish within 0.3 s"),
            std::string::npos)
      << stalled.status().to_string();
  EXPECT_GE(secs, 0.3);
  EXPECT_EQ(runner->health().code(), StatusCode::kUnavailable) << runner->health().to_string();
}

// A rank failing while the group captures its graphs at start-up: create()
// returns the error instead of hanging in the warm-up's collectives. (Rank
// 1's 71st launch falls in the eager warm-up before the second size's
// capture, past the first all-reduce; a launch refused while capturing
// would stop it before any collective ran.)
TEST(RankFailureTest, FailureWhileCapturingGraphsFailsCreate) {
  const Watchdog watchdog(120);
  LoadedModel m = make_model(kShapes[3], "cuda");
  simt::inject_launch_failure(1, 70);
  auto r = CudaModelRunner::create(m.config, m.checkpoint, runner_options(m, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("capturing the decode graph"), std::string::npos)
      << r.status().to_string();
  EXPECT_NE(r.status().message().find("rank 1"), std::string::npos) << r.status().to_string();
}

// Submits `r` and waits for its end: an error whose message holds `needle`,
// before any token.
void expect_request_fails(Engine& engine, EngineRequest r, const std::string& needle) {
  StreamSink sink;
  ASSERT_TRUE(engine.submit(std::move(r), sink.callback()).ok());
  sink.wait();
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.last().finish_reason, FinishReason::kError);
  EXPECT_NE(sink.last().error.message().find(needle), std::string::npos) << sink.last().error.to_string();
  EXPECT_TRUE(sink.tokens.empty());
}

// As a server runs it: the request in the failed step ends with the error,
// the engine reports the runner unhealthy (so health checks fail and the
// server can be replaced), later requests end with an error rather than
// waiting, and the engine still shuts down.
TEST(RankFailureTest, EngineFailsTheRequestAndReportsTheRunnerUnhealthy) {
  const Watchdog watchdog(120);
  LoadedModel m = make_model(kShapes[3], "cuda");
  auto runner = two_rank_runner(m, /*graphs=*/true);
  ASSERT_NE(runner, nullptr);
  EngineConfig ec;
  ec.scheduler.max_num_seqs = 8;
  ec.scheduler.max_num_batched_tokens = 256;
  ec.scheduler.max_model_len = static_cast<std::int32_t>(m.config.max_position_embeddings);
  auto engine = Engine::create(std::move(runner), byte_tokenizer(), ec);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const auto request = [&m](std::uint32_t seed) {
    EngineRequest r;
    r.prompt_token_ids = prompt_of(19, m.config.vocab_size, seed);
    r.sampling.temperature = 0;
    r.sampling.max_tokens = 6;
    r.sampling.ignore_eos = true;
    r.detokenize = false;
    return r;
  };
  StreamSink before;
  ASSERT_TRUE((*engine)->submit(request(1), before.callback()).ok());
  before.wait();
  EXPECT_EQ(before.tokens.size(), 6u);
  EXPECT_TRUE((*engine)->runner_health().ok());

  simt::inject_launch_failure(1, 0);
  expect_request_fails(**engine, request(2), "cudaErrorLaunchOutOfResources");
  EXPECT_EQ((*engine)->runner_health().code(), StatusCode::kUnavailable);
  expect_request_fails(**engine, request(3), "tensor-parallel group was aborted");
}

// Across nodes (threads here, one rank each): node `failing`'s launch is
// refused in a step. Each node's step fails — the failed node's with its own
// error, the other's with NCCL's report of the peer's abort — the leader's
// group is broken, and the worker's loop ends with an error (its process
// would exit, to be replaced).
void expect_node_failure_breaks_the_group(int failing) {
  const Watchdog watchdog(120);
  LoadedModel m = make_model(kShapes[1], "cuda_multi_node");
  const int port = multinode::testing::free_port();
  std::future<Status> worker = std::async(std::launch::async, [&m, port]() -> Status {
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<multinode::NodeGroup> g,
                            multinode::NodeGroup::create(testing::two_node_group_options(1, port)));
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<CudaModelRunner> r, testing::node_runner(m, *g));
    multinode::NodeWorker node(std::move(r), std::move(g));
    return node.run();
  });
  auto group = multinode::NodeGroup::create(testing::two_node_group_options(0, port));
  ASSERT_TRUE(group.ok()) << group.status().to_string();
  auto local = testing::node_runner(m, **group);
  ASSERT_TRUE(local.ok()) << local.status().to_string();
  multinode::MultiNodeModelRunner leader(std::move(local).value(), std::move(group).value());
  ModelDriver driver(leader, 7);
  DriverSeq& a = driver.add(prompt_of(13, m.config.vocab_size, 31));
  auto prefill = driver.step({{&a, 0}});
  ASSERT_TRUE(prefill.ok()) << prefill.status().to_string();

  simt::inject_launch_failure(failing, 0);
  auto failed = driver.step({{&a, 0}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(leader.health().code(), StatusCode::kUnavailable) << leader.health().to_string();
  const Status worker_status = worker.get();
  EXPECT_FALSE(worker_status.ok());
  const Status& own = failing == 0 ? failed.status() : worker_status;
  const Status& peer = failing == 0 ? worker_status : failed.status();
  EXPECT_NE(own.message().find("cudaErrorLaunchOutOfResources"), std::string::npos) << own.to_string();
  EXPECT_NE(peer.message().find("NCCL error in rank " + std::to_string(1 - failing) + "'s collectives"),
            std::string::npos)
      << peer.to_string();
}

TEST(RankFailureTest, WorkerNodeFailureBreaksTheGroup) {
  expect_node_failure_breaks_the_group(1);
}

TEST(RankFailureTest, LeaderNodeFailureEndsTheWorker) {
  expect_node_failure_breaks_the_group(0);
}

// Clears an injected device fault however the test ends.
class DeviceFault {
 public:
  explicit DeviceFault(int device) : device_(device) { simt::inject_device_fault(device_, true); }
  ~DeviceFault() { simt::inject_device_fault(device_, false); }
  DeviceFault(const DeviceFault&) = delete;
  DeviceFault& operator=(const DeviceFault&) = delete;

 private:
  const int device_;
};

// One GPU (no communicator) and one 23-token prompt, run by step().
class SingleGpuFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = make_model(kShapes[1], "cuda");
    runner_ = make_runner(model_, runner_options(model_, 1));
    ASSERT_NE(runner_, nullptr);
    driver_ = std::make_unique<ModelDriver>(*runner_, 7);
    seq_ = &driver_->add(prompt_of(23, model_.config.vocab_size, 1));
  }
  // Computes what is left of the prompt, or decodes a token.
  StatusOr<StepResult> step() { return driver_->step({{seq_, 0}}); }
  CudaModelRunner& runner() { return *runner_; }

  const Watchdog watchdog_{120};
  LoadedModel model_;
  std::unique_ptr<CudaModelRunner> runner_;
  std::unique_ptr<ModelDriver> driver_;
  DriverSeq* seq_ = nullptr;
};

// A device fault (an illegal address in a kernel) loses the GPU's context:
// the step fails and so would every later one, so the runner says it is
// broken (and `pagoda serve` exits to be restarted).
TEST_F(SingleGpuFailureTest, DeviceFaultBreaksTheRunner) {
  ASSERT_TRUE(step().ok());
  {
    const DeviceFault fault(0);
    auto failed = step();
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.status().message().find("cudaErrorIllegalAddress"), std::string::npos)
        << failed.status().to_string();
    const Status health = runner().health();
    EXPECT_EQ(health.code(), StatusCode::kUnavailable) << health.to_string();
    EXPECT_NE(health.message().find("GPU 0 faulted (cudaErrorIllegalAddress)"), std::string::npos)
        << health.to_string();
  }
  auto after = step();
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable) << after.status().to_string();
}

// Any other failure (here a refused launch) fails that step alone: the same
// step then runs.
TEST_F(SingleGpuFailureTest, RefusedLaunchFailsOnlyThatStep) {
  simt::inject_launch_failure(0, 3);
  auto failed = step();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("cudaErrorLaunchOutOfResources"), std::string::npos)
      << failed.status().to_string();
  EXPECT_TRUE(runner().health().ok()) << runner().health().to_string();
  auto again = step();
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(seq_->outputs.size(), 1u);
}

// NcclCommunicator::wait polls a stream whose collective may never finish:
// it gives up when asked, after its timeout, and reports a peer's abort as
// NCCL reports it. The fixture: a one-rank group and a stream held busy.
class NcclWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = NcclCommunicator::create_group({0});
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    group_ = std::move(g).value();
    ASSERT_EQ(cudaSetDevice(comm().device()), cudaSuccess);
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
    simt::hold_stream(stream_, true);
  }
  void TearDown() override {
    if (stream_ == nullptr) return;
    simt::hold_stream(stream_, false);
    cudaStreamDestroy(stream_);
  }
  const NcclCommunicator& comm() const { return *group_[0]; }

  const Watchdog watchdog_{60};
  std::vector<std::unique_ptr<NcclCommunicator>> group_;
  cudaStream_t stream_ = nullptr;
};

TEST_F(NcclWaitTest, GivesUpWhenAskedWhileTheStreamIsBusy) {
  std::stop_source give_up;
  std::thread asker([&give_up] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    give_up.request_stop();
  });
  const Status s = comm().wait(stream_, give_up.get_token());
  asker.join();
  EXPECT_EQ(s.code(), StatusCode::kAborted) << s.to_string();
  simt::hold_stream(stream_, false);
  EXPECT_TRUE(comm().wait(stream_, give_up.get_token()).ok())
      << "a finished stream is done whatever was asked";
}

TEST_F(NcclWaitTest, GivesUpAfterItsTimeout) {
  const auto t0 = std::chrono::steady_clock::now();
  const Status s = comm().wait(stream_, {}, 0.2);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
  EXPECT_NE(s.message().find("--collective-timeout"), std::string::npos) << s.to_string();
  EXPECT_GE(secs, 0.2);
}

TEST(NcclAbortTest, ReportsAPeersAbortToTheOthersWait) {
  const Watchdog watchdog(60);
  auto group = NcclCommunicator::create_group({0, 1});
  ASSERT_TRUE(group.ok()) << group.status().to_string();
  NcclCommunicator& survivor = *(*group)[0];
  (*group)[1]->abort();
  EXPECT_TRUE((*group)[1]->aborted());
  ASSERT_EQ(cudaSetDevice(survivor.device()), cudaSuccess);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, sizeof(float)), cudaSuccess);
  ASSERT_TRUE(survivor.enqueue_all_reduce_sum(d, 1, stream).ok());
  simt::hold_stream(stream, true);  // its all-reduce would wait for the aborted peer
  const Status s = survivor.wait(stream);
  simt::hold_stream(stream, false);
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.to_string();
  EXPECT_NE(s.message().find("NCCL error in rank 0's collectives"), std::string::npos) << s.to_string();
  // An aborted communicator refuses collectives.
  EXPECT_FALSE((*group)[1]->enqueue_all_reduce_sum(d, 1, stream).ok());
  cudaFree(d);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace pagoda::cuda
