// CudaModelRunner against the CPU backend (the oracle) on random checkpoints:
// both runners get identical step plans — mixed prefill chunks and decodes,
// paged through shuffled block ids — and must agree on logits within bf16
// tolerance and on greedy tokens wherever the CPU's top-1/top-2 margin is
// clear. Skipped without a GPU (the tp 2 test without two).
#include "engine/cuda/cuda_model_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cuda/cuda_device.h"
#include "engine/cpu/cpu_model_runner.h"
#include "engine/sampler.h"
#include "tests/engine/cpu/model_driver.h"
#include "tests/engine/test_model.h"

namespace pagoda::cuda {
namespace {

using pagoda::testing::DriverSeq;
using pagoda::testing::kShapes;
using pagoda::testing::LoadedModel;
using pagoda::testing::make_model;
using pagoda::testing::ModelDriver;
using pagoda::testing::prompt_of;
using pagoda::testing::Shape;

constexpr int kNumBlocks = 1024;

bool have_device() {
  return !list_devices().empty();
}

std::unique_ptr<cpu::CpuModelRunner> cpu_runner(const LoadedModel& m, int block_size) {
  cpu::CpuRunnerOptions o;
  o.block_size = block_size;
  o.num_kv_blocks = kNumBlocks;
  o.keep_logits = true;
  auto r = cpu::CpuModelRunner::create(m.config, m.checkpoint, o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r).value();
}

// How the CUDA runner under test is set up.
struct Gpu {
  bool graphs = true;
  bool nccl = false;  // tp 1 through a one-rank NCCL group
  int tp = 1;
  double graph_budget_s = 60;
  bool fused = true;         // decode steps of up to 4 rows: norms and adds in the skinny GEMMs
  bool programmatic = true;  // kernels in LaunchOrder::kProgrammatic (compute capability 9.0+; the
                             // runner's default is off until timed, the tests check both)
  bool invariant = false;    // the batch-invariant mode
  int kv_split = 64;         // its attention splits: small, so that test contexts cross them
  // GEMM kernels and cuBLASLt's algorithms timed per shape at start-up; off
  // (the fixed picks) but where a test asks: timed on the emulator, our
  // kernels cost minutes over the suite and always lose to its cuBLASLt.
  bool tune_gemms = false;
  std::function<double(GemmKernel, const GemmShape&)> gemm_timer =
      nullptr;  // in place of timing on the device
};

std::unique_ptr<CudaModelRunner> cuda_runner(const LoadedModel& m, int block_size, Gpu g = {}) {
  CudaRunnerOptions o;
  o.cuda_graphs = g.graphs;
  o.nccl_at_tp1 = g.nccl;
  o.tensor_parallel_size = g.tp;
  o.programmatic_launch = g.programmatic;
  o.fused_decode = g.fused;
  o.batch_invariant = g.invariant;
  o.batch_invariant_kv_split = g.kv_split;
  o.tune_gemms = g.tune_gemms;
  o.gemm_timer = g.gemm_timer;
  o.graph_capture_budget_s = g.graph_budget_s;
  o.num_kv_blocks = kNumBlocks;
  o.keep_logits = true;
  o.limits.block_size = block_size;
  o.limits.max_tokens = 512;
  o.limits.max_seqs = 32;
  o.limits.max_model_len = static_cast<std::int32_t>(m.config.max_position_embeddings);
  auto r = CudaModelRunner::create(m.config, m.checkpoint, o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

double rel_err(const std::vector<float>& got, const std::vector<float>& ref) {
  double e = 0, r = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    e += (static_cast<double>(got[i]) - ref[i]) * (static_cast<double>(got[i]) - ref[i]);
    r += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(e / r);
}

// Largest |got - ref| in a row. A logprob (a logit minus the row's
// log-sum-exp, which moves no more than the largest logit does) can differ
// between the backends by up to twice this.
double max_abs_diff(const std::vector<float>& got, const std::vector<float>& ref) {
  double d = 0;
  for (std::size_t i = 0; i < ref.size(); ++i)
    d = std::max(d, std::abs(static_cast<double>(got[i]) - ref[i]));
  return d;
}

double top2_margin(const std::vector<float>& logits) {
  std::vector<float> v = logits;
  std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<>());
  return static_cast<double>(v[0]) - v[1];
}

struct LockstepStats {
  int steps = 0;
  int tokens_compared = 0;
  double worst_rel_err = 0;
};

// Runs both runners on the same prompts, `chunk` prefill tokens per step,
// until every sequence has `num_new` outputs or a near-tie splits them.
LockstepStats run_lockstep(const LoadedModel& m, int block_size,
                           const std::vector<std::vector<std::int32_t>>& prompts, int chunk, int num_new,
                           Gpu g = {}, int logprobs = -1) {
  LockstepStats st;
  auto cpu = cpu_runner(m, block_size);
  auto gpu = cuda_runner(m, block_size, g);
  if (gpu == nullptr) return st;
  EXPECT_EQ(gpu->tensor_parallel_size(), g.tp);
  if (g.graphs) {
    EXPECT_GT(gpu->num_graphs(), 0u);
  }
  ModelDriver dc(*cpu, 5), dg(*gpu, 5);
  std::vector<DriverSeq*> sc, sg;
  SamplingParams sp = ModelDriver::greedy();
  sp.logprobs = logprobs;
  for (const auto& p : prompts) {
    sc.push_back(&dc.add(p, sp));
    sg.push_back(&dg.add(p, sp));
  }
  while (static_cast<int>(sc[0]->outputs.size()) < num_new) {
    std::vector<std::pair<DriverSeq*, std::int32_t>> wc, wg;
    for (std::size_t i = 0; i < sc.size(); ++i) {
      wc.emplace_back(sc[i], chunk);
      wg.emplace_back(sg[i], chunk);
    }
    auto rc = dc.step(wc);
    auto rg = dg.step(wg);
    EXPECT_TRUE(rc.ok()) << rc.status().to_string();
    EXPECT_TRUE(rg.ok()) << rg.status().to_string();
    if (!rc.ok() || !rg.ok()) return st;
    ++st.steps;
    const auto& lc = cpu->last_logits();
    const auto& lg = gpu->last_logits();
    EXPECT_EQ(lc.size(), lg.size());
    if (lc.size() != lg.size()) return st;
    for (std::size_t row = 0; row < lc.size(); ++row) {
      const double err = rel_err(lg[row], lc[row]);
      st.worst_rel_err = std::max(st.worst_rel_err, err);
      EXPECT_LT(err, 2e-2) << "step " << st.steps << " row " << row;
    }
    for (std::size_t k = 0; k < rc->sampled.size(); ++k) {
      const std::int32_t a = rc->sampled[k].token_id, b = rg->sampled[k].token_id;
      if (a == b) {
        ++st.tokens_compared;
        if (logprobs >= 0) {
          EXPECT_NEAR(rg->sampled[k].logprob, rc->sampled[k].logprob, 2 * max_abs_diff(lg[k], lc[k]) + 1e-4);
          EXPECT_EQ(rg->sampled[k].top_logprobs.size(), static_cast<std::size_t>(logprobs));
        }
        continue;
      }
      EXPECT_LT(top2_margin(lc[k]), 0.05) << "tokens differ (cpu " << a << ", cuda " << b << ") at step "
                                          << st.steps << " with a clear CPU margin";
      return st;  // a near-tie: the two runs now follow different sequences
    }
  }
  return st;
}

// The configuration tests' common run against the CPU: three prompts of mixed
// lengths, chunked by 7, for 10 greedy tokens under `chunked`; then the same
// prompts whole for 4 tokens with two top logprobs (the device sampler) under
// `logprob_rows`.
void expect_mixed_steps_match_cpu(const LoadedModel& m, Gpu chunked, Gpu logprob_rows) {
  const int v = m.config.vocab_size;
  const std::vector<std::vector<std::int32_t>> prompts = {prompt_of(40, v, 1), prompt_of(1, v, 2),
                                                          prompt_of(17, v, 3)};
  LockstepStats st = run_lockstep(m, 16, prompts, 7, 10, chunked);
  EXPECT_GE(st.tokens_compared, 10);
  st = run_lockstep(m, 16, prompts, 0, 4, logprob_rows, 2);
  EXPECT_GE(st.tokens_compared, 3);
}

class CudaRunnerShapeTest : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaRunnerShapeTest, MixedPrefillAndDecodeMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(GetParam(), "cuda");
  const int v = m.config.vocab_size;
  LockstepStats st =
      run_lockstep(m, 16, {prompt_of(40, v, 1), prompt_of(1, v, 2), prompt_of(17, v, 3)}, 7, 10);
  GTEST_LOG_(INFO) << GetParam().name << ": " << st.steps << " steps, " << st.tokens_compared
                   << " tokens equal, worst logits relative error " << st.worst_rel_err;
  EXPECT_GE(st.tokens_compared, 10);
}

TEST_P(CudaRunnerShapeTest, BlockSizeOneMatchesCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(GetParam(), "cuda");
  // Eager decode steps (no graphs) here; the other tests replay graphs.
  LockstepStats st = run_lockstep(m, 1, {prompt_of(23, m.config.vocab_size, 4)}, 0, 6, Gpu{.graphs = false});
  EXPECT_GE(st.tokens_compared, 3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaRunnerShapeTest, ::testing::ValuesIn(kShapes),
                         [](const ::testing::TestParamInfo<Shape>& i) { return std::string(i.param.name); });

TEST(CudaModelRunnerTest, BatchOfSeventeenDecodesMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  std::vector<std::vector<std::int32_t>> prompts;
  for (int i = 0; i < 17; ++i)
    prompts.push_back(prompt_of(1 + (i * 13) % 50, m.config.vocab_size, 10 + i));
  LockstepStats st = run_lockstep(m, 16, prompts, 0, 5);
  EXPECT_GE(st.tokens_compared, 17);
}

// A long context decodes through many attention splits (flash-decoding).
TEST(CudaModelRunnerTest, LongContextSplitsMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[2], "cuda");  // GQA 8, head_dim 128
  m.config.max_position_embeddings = 2048;
  LockstepStats st = run_lockstep(m, 16, {prompt_of(1500, m.config.vocab_size, 7)}, 256, 4);
  EXPECT_GE(st.tokens_compared, 1);
}

// Rows asking for logprobs (the device sampler takes them) against the CPU.
TEST(CudaModelRunnerTest, LogprobRowsMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  const int v = m.config.vocab_size;
  LockstepStats st = run_lockstep(m, 16, {prompt_of(9, v, 21), prompt_of(30, v, 22)}, 0, 4, Gpu{}, 3);
  EXPECT_GE(st.tokens_compared, 4);
}

// A capture budget spent by the first graph: batch 1 replays it, the larger
// decode batches run eagerly, and both match the CPU.
TEST(CudaModelRunnerTest, SpentGraphBudgetLeavesLargerBatchesEager) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  const int v = m.config.vocab_size;
  auto gpu = cuda_runner(m, 16, Gpu{.graph_budget_s = 1e-9});
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->num_graphs(), 1u);
  EXPECT_NE(gpu->describe_graphs().find("larger sizes left to eager steps"), std::string::npos)
      << gpu->describe_graphs();
  LockstepStats st = run_lockstep(m, 16, {prompt_of(12, v, 41), prompt_of(3, v, 42), prompt_of(25, v, 43)}, 0,
                                  5, Gpu{.graph_budget_s = 1e-9});
  EXPECT_GE(st.tokens_compared, 5);
  st = run_lockstep(m, 16, {prompt_of(12, v, 41)}, 0, 5, Gpu{.graph_budget_s = 1e-9});
  EXPECT_GE(st.tokens_compared, 5);
}

// GEMM shapes are timed (our kernels against cuBLASLt, and cuBLASLt's own
// candidates) at start-up only: a served step meeting a new shape takes the
// fixed rule instead of stalling to time it; tune_gemms false times nothing.
TEST(CudaModelRunnerTest, GemmShapesAreTimedAtStartUpOnly) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[2], "cuda");
  auto gpu = cuda_runner(m, 16, Gpu{.fused = false, .tune_gemms = true});
  ASSERT_NE(gpu, nullptr);
  const std::size_t at_start = gpu->num_gemm_timings();
  EXPECT_GT(at_start, 0u) << "the warm-ups before graph capture time the decode shapes";
  ModelDriver d(*gpu, 1);
  DriverSeq& s = d.add(prompt_of(37, m.config.vocab_size, 9));  // 37 rows: a shape no graph has
  ASSERT_TRUE(d.step({{&s, 0}}).ok());
  EXPECT_EQ(gpu->num_gemm_timings(), at_start);
  auto untuned = cuda_runner(m, 16, Gpu{.fused = false, .tune_gemms = false});
  ASSERT_NE(untuned, nullptr);
  EXPECT_EQ(untuned->num_gemm_timings(), 0u);
}

// Whichever kernel start-up's timing picks, the numbers hold: with the
// skinny GEMM, then the tiled one, timing fastest on every shape it can
// take, decode batches of 6 (graphs of 8 rows) and mixed prefill steps
// still match the CPU backend.
TEST(CudaModelRunnerTest, TimedGemmChoicesMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[2], "cuda");
  const int v = m.config.vocab_size;
  for (const GemmKernel fastest : {GemmKernel::kSkinny, GemmKernel::kTiled}) {
    SCOPED_TRACE(gemm_kernel_name(fastest));
    Gpu g{.fused = false, .tune_gemms = true};
    g.gemm_timer = [fastest](GemmKernel k, const GemmShape&) { return k == fastest ? 0.001 : 1.0; };
    auto gpu = cuda_runner(m, 16, g);
    ASSERT_NE(gpu, nullptr);
    const std::string graphs = gpu->describe_graphs();
    EXPECT_EQ(graphs.find(std::string(gemm_kernel_name(fastest)) + " 0"), std::string::npos) << graphs;
    std::vector<std::vector<std::int32_t>> prompts;
    for (int i = 0; i < 6; ++i)
      prompts.push_back(prompt_of(1 + (i * 13) % 41, v, 30 + i));
    const LockstepStats st = run_lockstep(m, 16, prompts, 7, 8, g);
    EXPECT_GE(st.tokens_compared, 8);
  }
}

// Plain kernel launches, the runner's default (the other tests launch
// programmatically on Hopper).
TEST(CudaModelRunnerTest, SerialLaunchesMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[2], "cuda");
  const int v = m.config.vocab_size;
  LockstepStats st =
      run_lockstep(m, 16, {prompt_of(70, v, 11), prompt_of(5, v, 12)}, 33, 8, Gpu{.programmatic = false});
  EXPECT_GE(st.tokens_compared, 8);
}

// Programmatic launches take effect where asked for and possible (the other
// tests rely on it to check every kernel's await_previous_grid on Hopper and
// on the emulator), and never where not asked for.
TEST(CudaModelRunnerTest, ProgrammaticLaunchesTakeEffectOnHopper) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[0], "cuda");
  const bool hopper = list_devices()[0].compute_major >= 9;
  std::unique_ptr<CudaModelRunner> asked = cuda_runner(m, 16, Gpu{.graphs = false});
  ASSERT_NE(asked, nullptr);
  EXPECT_EQ(asked->programmatic_launches(), hopper);
  std::unique_ptr<CudaModelRunner> plain = cuda_runner(m, 16, Gpu{.graphs = false, .programmatic = false});
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->programmatic_launches());
}

// Decode steps of up to 4 rows with the residual adds and RMSNorms inside the
// skinny GEMMs (CudaKernelChoices::fused_decode) against the separate
// kernels: the same logits, bit for bit, eagerly and from graphs; the prefill
// step (more rows) runs unfused in both, on cuBLASLt's untimed pick (each
// runner timing its own could choose algorithms that round differently).
TEST(CudaModelRunnerTest, FusedDecodeEqualsUnfusedBitForBit) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[2], "cuda");
  const int v = m.config.vocab_size;
  for (const bool graphs : {true, false}) {
    auto fused = cuda_runner(m, 16, Gpu{.graphs = graphs, .tune_gemms = false});
    auto plain = cuda_runner(m, 16, Gpu{.graphs = graphs, .fused = false, .tune_gemms = false});
    ASSERT_NE(fused, nullptr);
    ASSERT_NE(plain, nullptr);
    ModelDriver df(*fused, 5), dp(*plain, 5);
    std::vector<DriverSeq*> sf, sp;
    for (int i = 0; i < 3; ++i) {
      sf.push_back(&df.add(prompt_of(5 + 9 * i, v, 60 + i)));
      sp.push_back(&dp.add(prompt_of(5 + 9 * i, v, 60 + i)));
    }
    for (int step = 0; step < 6; ++step) {
      std::vector<std::pair<DriverSeq*, std::int32_t>> wf, wp;
      for (int i = 0; i < (step < 3 ? 3 : 1); ++i) {  // batches of 3, then of 1
        wf.emplace_back(sf[static_cast<std::size_t>(i)], 0);
        wp.emplace_back(sp[static_cast<std::size_t>(i)], 0);
      }
      auto rf = df.step(wf);
      auto rp = dp.step(wp);
      ASSERT_TRUE(rf.ok()) << rf.status().to_string();
      ASSERT_TRUE(rp.ok()) << rp.status().to_string();
      ASSERT_EQ(fused->last_logits(), plain->last_logits()) << "graphs " << graphs << ", step " << step;
    }
  }
}

TEST(CudaModelRunnerTest, BatchInvariantModeMatchesCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  expect_mixed_steps_match_cpu(m, Gpu{.invariant = true}, Gpu{.graphs = false, .invariant = true});
}

// The batch-invariant mode at tp 4: each all-reduce an all-gather and a sum
// in rank order (launch_rank_sum), KV heads replicated (2 over 4 ranks).
TEST(CudaModelRunnerTest, BatchInvariantAtTpFourMatchesCpu) {
  if (list_devices().size() < 4) GTEST_SKIP() << "needs four CUDA devices";
  LoadedModel m = make_model(kShapes[1], "cuda");
  expect_mixed_steps_match_cpu(m, Gpu{.tp = 4, .invariant = true},
                               Gpu{.graphs = false, .tp = 4, .invariant = true});
}

// The invariant GEMM reads along k in 16-byte chunks: a rank's intermediate
// width of 100 is refused at start-up, naming the widths, not at a step.
TEST(CudaModelRunnerTest, BatchInvariantRefusesWidthsOffEight) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(Shape{"inter100", 64, 1, 4, 4, 32, 100, 512, true}, "cuda");
  CudaRunnerOptions o;
  o.batch_invariant = true;
  o.cuda_graphs = false;
  o.num_kv_blocks = 64;
  o.limits.max_model_len = 256;
  auto r = CudaModelRunner::create(m.config, m.checkpoint, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("intermediate 100 per rank"), std::string::npos)
      << r.status().message();
  o.batch_invariant = false;
  EXPECT_TRUE(CudaModelRunner::create(m.config, m.checkpoint, o).ok());  // the default mode takes it
}

// Each logits row a request gets in the batch-invariant mode while it runs
// alone: its whole prompt in one step, then decodes of batch 1 from graphs.
std::vector<std::vector<float>> logits_alone(const LoadedModel& m, const std::vector<std::int32_t>& prompt,
                                             std::size_t num_new) {
  std::vector<std::vector<float>> rows;
  auto gpu = cuda_runner(m, 16, Gpu{.invariant = true});
  if (gpu == nullptr) return rows;
  ModelDriver d(*gpu, 5);
  DriverSeq& t = d.add(prompt);
  while (t.outputs.size() < num_new) {
    auto r = d.step({{&t, 0}});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) break;
    rows.push_back(gpu->last_logits().at(0));
  }
  return rows;
}

// The batch-invariant mode's promise: a request's logits are bit for bit
// those it gets alone when it shares its steps with 16 others — its prompt
// in chunks of 13 beside other prompts' chunks and decodes, its decodes in
// batches of 17 (from graphs and eagerly), its KV in other blocks. The chunk
// of positions 52-64 gives the warp of rows 52-63 the key tile from 64, which
// is wholly masked for them; alone, that warp stops at tile 0.
TEST(CudaModelRunnerTest, BatchInvariantRequestEqualsItselfAloneInABatch) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  const int v = m.config.vocab_size;
  const std::vector<std::int32_t> prompt = prompt_of(70, v, 90);
  constexpr std::size_t kNew = 8;
  const std::vector<std::vector<float>> alone = logits_alone(m, prompt, kNew);
  ASSERT_EQ(alone.size(), kNew);
  for (const bool graphs : {true, false}) {
    auto gpu = cuda_runner(m, 16, Gpu{.graphs = graphs, .invariant = true});
    ASSERT_NE(gpu, nullptr);
    ModelDriver d(*gpu, 11);
    DriverSeq& t = d.add(prompt);
    std::vector<DriverSeq*> others;
    for (int i = 0; i < 16; ++i)
      others.push_back(&d.add(prompt_of(1 + (i * 11) % 60, v, 91 + i)));
    std::size_t compared = 0;
    for (int step = 0; t.outputs.size() < kNew; ++step) {
      std::vector<std::pair<DriverSeq*, std::int32_t>> work = {{&t, 13}};  // first: its row is row 0
      for (std::size_t i = 0; i < others.size(); ++i) {
        if (i < 8 || step >= 2) work.emplace_back(others[i], 0);  // half join two steps later
      }
      const std::size_t before = t.outputs.size();
      auto r = d.step(work);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      if (t.outputs.size() == before) continue;
      ASSERT_EQ(gpu->last_logits().at(0), alone[before]) << "graphs " << graphs << ", output " << before;
      ++compared;
    }
    EXPECT_EQ(compared, kNew);
  }
}

// Preemption by recompute in the batch-invariant mode: the prompt and the
// first outputs prefilled again as one sequence (in chunks, beside another
// request) continue with the logits the request got alone.
TEST(CudaModelRunnerTest, BatchInvariantRecomputeEqualsTheFirstRun) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  const int v = m.config.vocab_size;
  const std::vector<std::int32_t> prompt = prompt_of(30, v, 70);
  constexpr std::size_t kNew = 8, kBeforePreemption = 4;
  const std::vector<std::vector<float>> alone = logits_alone(m, prompt, kNew);
  ASSERT_EQ(alone.size(), kNew);
  auto gpu = cuda_runner(m, 16, Gpu{.invariant = true});
  ASSERT_NE(gpu, nullptr);
  ModelDriver d(*gpu, 23);
  DriverSeq& first = d.add(prompt);
  while (first.outputs.size() < kBeforePreemption)
    ASSERT_TRUE(d.step({{&first, 0}}).ok());
  // Preempted: its blocks are dropped and it starts over from every token it has.
  DriverSeq& again = d.add(first.tokens);
  DriverSeq& other = d.add(prompt_of(21, v, 71));
  for (std::size_t k = kBeforePreemption; k < kNew;) {
    const std::size_t before = again.outputs.size();
    auto r = d.step({{&again, 9}, {&other, 5}});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    if (again.outputs.size() == before) continue;
    ASSERT_EQ(gpu->last_logits().at(0), alone[k]) << "output " << k;
    ++k;
  }
}

// tp 1 through a one-rank NCCL group: the all-reduces captured in the decode
// graphs, the logits gathered and laid out by rank 0 before the argmax (plain
// greedy rows) and the device sampler (logprob rows).
TEST(CudaModelRunnerTest, NcclAtTpOneMatchesCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  expect_mixed_steps_match_cpu(m, Gpu{.nccl = true}, Gpu{.nccl = true});
}

// Two GPUs: heads, MLP columns and vocabulary split; graphs captured on both
// ranks at once with their all-reduces; rank 0 samples from the gathered
// logits (a vocabulary that does not split evenly: shard widths differ).
TEST(CudaModelRunnerTest, TwoRanksMatchCpu) {
  if (list_devices().size() < 2) GTEST_SKIP() << "needs two CUDA devices";
  LoadedModel m = make_model(kShapes[3], "cuda");  // vocab 509: shards of 255 and 254
  expect_mixed_steps_match_cpu(m, Gpu{.tp = 2}, Gpu{.graphs = false, .tp = 2});
}

// Two ranks timing their GEMM kernels at start-up, each at its own pace: a
// rank drains its stream (collectives included, which need the other rank)
// before timing a new shape, then waits on GEMM work only; no rank hangs, and
// whatever each chose, the group matches the CPU.
TEST(CudaModelRunnerTest, TwoRanksTimingTheirGemmsMatchCpu) {
  if (list_devices().size() < 2) GTEST_SKIP() << "needs two CUDA devices";
  LoadedModel m = make_model(kShapes[3], "cuda");
  const Gpu g{.tp = 2, .tune_gemms = true};
  auto gpu = cuda_runner(m, 16, g);
  ASSERT_NE(gpu, nullptr);
  EXPECT_GT(gpu->num_gemm_timings(), 0u);
  const int v = m.config.vocab_size;
  const LockstepStats st = run_lockstep(m, 16, {prompt_of(9, v, 1), prompt_of(5, v, 2)}, 0, 4, g);
  EXPECT_GE(st.tokens_compared, 4);
}

// The device sampler inside the runner: every non-greedy row's token (and
// logprobs) equals what the host Sampler picks from the same step's logits,
// over prefill and decode steps (graphs replayed) with mixed parameters.
// Penalties read each history from the KV cache's token ids; row 5's raise
// its history's tokens (a repetition penalty below 1 multiplies positive
// logits, negative ones add), so its greedy choice turns on them. Also
// through a one-rank NCCL group (the sampler reads the gathered logits).
class DeviceSamplerTest : public ::testing::TestWithParam<bool> {};

TEST_P(DeviceSamplerTest, ChoosesAsTheHostSampler) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[1], "cuda");
  const int v = m.config.vocab_size;
  auto gpu = cuda_runner(m, 16, Gpu{.nccl = GetParam()});
  ASSERT_NE(gpu, nullptr);
  std::vector<SamplingParams> params(6);
  params[0].temperature = 0.8;
  params[0].top_p = 0.9;
  params[1].top_k = 20;
  params[2].min_p = 0.1;
  params[2].repetition_penalty = 1.2;
  params[2].frequency_penalty = 0.4;
  params[3].logprobs = 3;
  params[4].temperature = 0.0;
  params[4].presence_penalty = 1.0;
  params[4].logit_bias = {{5, 2.0f}};
  params[5].temperature = 0.0;
  params[5].repetition_penalty = 0.2;
  params[5].presence_penalty = -2.0;
  params[5].frequency_penalty = -0.5;
  ModelDriver driver(*gpu, 9);
  std::vector<DriverSeq*> seqs;
  for (std::size_t i = 0; i < params.size(); ++i) {
    params[i].seed = 77 + i;
    params[i].max_tokens = 1 << 20;
    seqs.push_back(
        &driver.add(prompt_of(7 + 5 * static_cast<int>(i), v, 30 + static_cast<int>(i)), params[i]));
  }
  const Sampler sampler(m.config.eos_token_ids);
  int compared = 0;
  for (int step = 0; step < 6; ++step) {
    std::vector<std::vector<std::int32_t>> before;
    std::vector<std::pair<DriverSeq*, std::int32_t>> work;
    for (DriverSeq* s : seqs) {
      before.push_back(s->tokens);
      work.emplace_back(s, 0);
    }
    auto r = driver.step(work);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const auto& logits = gpu->last_logits();
    ASSERT_EQ(logits.size(), seqs.size());
    for (std::size_t k = 0; k < seqs.size(); ++k) {
      ScheduledSequence ss;
      ss.token_ids = before[k];
      ss.num_prompt_tokens = seqs[k]->num_prompt;
      ss.num_output_tokens = static_cast<std::int32_t>(before[k].size()) - seqs[k]->num_prompt;
      ss.sampling = &seqs[k]->sampling;
      ss.seed = *seqs[k]->sampling.seed;
      std::vector<float> row = logits[k];
      const SampledToken want = sampler.sample(ss, row.data(), v);
      const SampledToken& got = r->sampled[k];
      EXPECT_EQ(got.token_id, want.token_id) << "step " << step << " row " << k;
      if (params[k].logprobs >= 0) {
        EXPECT_NEAR(got.logprob, want.logprob, 1e-5);
        ASSERT_EQ(got.top_logprobs.size(), want.top_logprobs.size());
        for (std::size_t j = 0; j < want.top_logprobs.size(); ++j)
          EXPECT_EQ(got.top_logprobs[j].token_id, want.top_logprobs[j].token_id);
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, 36);
}

INSTANTIATE_TEST_SUITE_P(Communicator, DeviceSamplerTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Nccl" : "None"; });

TEST(CudaModelRunnerTest, BadTokenIdIsAnErrorNotACrash) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[0], "cuda");
  auto gpu = cuda_runner(m, 16);
  ASSERT_NE(gpu, nullptr);
  ModelDriver d(*gpu, 1);
  DriverSeq& s = d.add({1, 2, m.config.vocab_size + 5});
  auto r = d.step({{&s, 0}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  DriverSeq& ok = d.add({1, 2, 3});
  EXPECT_TRUE(d.step({{&ok, 0}}).ok());  // the runner still works
}

TEST(CudaModelRunnerTest, ModelTooLargeForKvIsRefusedWithAdvice) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  LoadedModel m = make_model(kShapes[0], "cuda");
  CudaRunnerOptions o;
  o.kv_cache_bytes = 1;  // cannot hold one sequence
  o.limits.max_model_len = 256;
  auto r = CudaModelRunner::create(m.config, m.checkpoint, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("max_model_len 256"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("a larger --kv-cache-bytes"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace pagoda::cuda
