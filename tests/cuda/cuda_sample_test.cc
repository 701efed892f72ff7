// Device sampling against the host Sampler: one launch of rows with mixed
// parameters (greedy, temperature, top_k / top_p / min_p, penalties, bias,
// min_tokens bans, logprobs), rows read through an index with padding
// columns the kernel must ignore, tied logits, full and odd vocabularies,
// the history in KV slots of blocks of 5 behind block tables (row k's at
// offset 3k, all naming the same blocks), a poisoned count scratch, and NaN
// logits in every other row (they weigh nothing, as in the Sampler).
// Tokens must equal the Sampler's; two launches must agree bit for bit, and
// so must a launch whose histogram adds are each lane's own.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/sample_kernel.h"
#include "engine/cuda/device_sample_batch.h"
#include "engine/sampler.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda::kernel_test {
namespace {

constexpr std::int32_t kEos = 2;

std::vector<SamplingParams> mixed_params() {
  std::vector<SamplingParams> v(17);
  v[0].temperature = 0.0;
  v[1].temperature = 0.7;
  v[2].top_k = 1;
  v[3].top_k = 40;
  v[4].top_k = 300;
  v[5].top_p = 0.5;
  v[6].top_p = 0.95;
  v[7].min_p = 0.05;
  v[8].top_k = 50;
  v[8].top_p = 0.8;
  v[8].min_p = 0.02;
  v[8].temperature = 0.8;
  v[9].repetition_penalty = 1.3;
  v[9].presence_penalty = 0.5;
  v[9].frequency_penalty = 0.7;
  v[10].temperature = 0.0;
  v[10].repetition_penalty = 0.8;
  v[10].logprobs = 3;
  v[11].logit_bias = {{3, 6.0f}, {10, -100.0f}};
  v[11].top_p = 0.9;
  v[12].min_tokens = 100;
  v[12].stop_token_ids = {0, 1};
  v[12].top_k = 5;
  v[13].logprobs = 20;
  v[13].top_p = 0.7;
  v[14].logprobs = 0;
  v[14].temperature = 1.9;
  v[15].top_k = 2;
  v[15].logprobs = 1;
  v[16].min_p = 0.5;
  v[16].temperature = 0.3;
  return v;
}

class CudaSampleTest : public CudaKernelTest {};

TEST_F(CudaSampleTest, MatchesHostSampler) {
  const std::vector<std::int32_t> history = {7, 3, 3, 11, 2, 5, 3, 9, 9, 9, 0, 42};
  const std::vector<std::int32_t> eos = {kEos};
  const Sampler sampler(eos);
  const std::vector<SamplingParams> params = mixed_params();
  std::mt19937 rng(17);
  for (std::int64_t vocab : {151936L, 5003L, 97L}) {
    for (float step : {0.0f, 0.25f}) {
      const auto rows = static_cast<std::int64_t>(params.size());
      const std::int64_t stride = vocab + 5;
      std::vector<float> logits = random_f32(rng, static_cast<std::size_t>(rows * stride), -6.0f, 6.0f);
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t i = 0; i < stride; ++i) {
          float& x = logits[static_cast<std::size_t>(r * stride + i)];
          if (i >= vocab) {
            x = 1000.0f;  // padding
          } else if (r % 2 == 1 && i % 101 == 0) {
            x = NAN;  // token 0 among them
          } else if (step > 0) {
            x = std::round(x / step) * step;  // many ties
          }
        }
      }
      // Output k samples logits row which[k] (reversed).
      // History blocks of 5 at ids 3, 1, 0 (slots of block 2 poisoned with a
      // token no history has); row k's table starts at 3k.
      constexpr std::int32_t kBlockSize = 5;
      const std::vector<std::int32_t> blocks = {3, 1, 0};
      std::vector<std::int32_t> slot_tokens(4 * kBlockSize, 1);
      for (std::size_t i = 0; i < history.size(); ++i)
        slot_tokens[static_cast<std::size_t>(blocks[i / kBlockSize] * kBlockSize) + i % kBlockSize] =
            history[i];
      std::vector<std::int32_t> tables;
      for (std::size_t k = 0; k < params.size(); ++k)
        tables.insert(tables.end(), blocks.begin(), blocks.end());
      DeviceSampleBatch batch;
      std::vector<ScheduledSequence> seqs(params.size());
      for (std::size_t k = 0; k < params.size(); ++k) {
        ScheduledSequence& s = seqs[k];
        s.token_ids = history;
        s.num_prompt_tokens = 5;
        s.num_output_tokens = static_cast<std::int32_t>(history.size()) - 5;
        s.sampling = &params[k];
        s.seed = 1000 + k;
        ASSERT_TRUE(append_device_sample_row(s, rows - 1 - static_cast<std::int64_t>(k),
                                             static_cast<std::int32_t>(3 * k), eos,
                                             static_cast<std::int32_t>(vocab), &batch));
      }
      DeviceBuffer d_logits, d_rows, d_edits, d_processed, d_out, d_slot_tokens, d_tables, d_counts;
      ASSERT_NO_FATAL_FAILURE(upload(logits, &d_logits));
      ASSERT_NO_FATAL_FAILURE(upload(batch.rows, &d_rows));
      ASSERT_NO_FATAL_FAILURE(upload(batch.edits, &d_edits));
      ASSERT_NO_FATAL_FAILURE(upload(slot_tokens, &d_slot_tokens));
      ASSERT_NO_FATAL_FAILURE(upload(tables, &d_tables));
      ASSERT_NO_FATAL_FAILURE(
          alloc_poisoned<std::uint32_t>(static_cast<std::size_t>(rows * vocab), &d_counts));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(rows * vocab), &d_processed));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<SampleRowOutput>(params.size(), &d_out));
      SampleParams p;
      p.logits = d_logits.as<float>();
      p.rows = d_rows.as<SampleRowParams>();
      p.edits = d_edits.as<LogitEdit>();
      p.history = {d_slot_tokens.as<std::int32_t>(), d_tables.as<std::int32_t>(), kBlockSize};
      p.counts = d_counts.as<std::uint32_t>();
      p.processed = d_processed.as<float>();
      p.out = d_out.as<SampleRowOutput>();
      p.num_rows = rows;
      p.vocab_size = vocab;
      p.row_stride = stride;
      std::vector<SampleRowOutput> first, second;
      PAGODA_ASSERT_CUDA(launch_sample(p, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      ASSERT_NO_FATAL_FAILURE(download(d_out, &first));
      PAGODA_ASSERT_CUDA(launch_sample(p, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      ASSERT_NO_FATAL_FAILURE(download(d_out, &second));
      ASSERT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(SampleRowOutput)), 0);
      // Each lane adding on its own into the histograms: the same sums, so
      // the same outputs, bit for bit.
      SampleParams refused = p;  // no count scratch: refused, not a fault
      refused.counts = nullptr;
      EXPECT_EQ(launch_sample(refused, nullptr), cudaErrorInvalidValue);
      p.warp_aggregated_adds = false;
      PAGODA_ASSERT_CUDA(launch_sample(p, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      ASSERT_NO_FATAL_FAILURE(download(d_out, &second));
      ASSERT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(SampleRowOutput)), 0);
      for (std::size_t k = 0; k < params.size(); ++k) {
        SCOPED_TRACE("vocab " + std::to_string(vocab) + " step " + std::to_string(step) + " row " +
                     std::to_string(k));
        const float* row = logits.data() + (rows - 1 - static_cast<std::int64_t>(k)) * stride;
        std::vector<float> host(row, row + vocab);
        const SampledToken want = sampler.sample(seqs[k], host.data(), static_cast<std::int32_t>(vocab));
        const SampleRowOutput& got = first[k];
        EXPECT_EQ(got.token, want.token_id);
        if (params[k].logprobs >= 0) {
          EXPECT_NEAR(got.logprob, want.logprob, 1e-5);
          ASSERT_EQ(got.num_top, static_cast<std::int32_t>(want.top_logprobs.size()));
          for (int i = 0; i < got.num_top; ++i) {
            EXPECT_EQ(got.top_ids[i], want.top_logprobs[static_cast<std::size_t>(i)].token_id);
            EXPECT_NEAR(got.top_logprobs[i], want.top_logprobs[static_cast<std::size_t>(i)].logprob, 1e-5);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
