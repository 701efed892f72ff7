// Submitting one front-end generation (n choices) to the Engine: choice i is
// one engine request whose seed is seed + i, all sharing the prompt. Called on
// a front-end thread; the callback runs on the engine's output thread and must
// not block.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/serving_context.h"

namespace pagoda::server {

struct GenerationSpec {
  std::vector<std::int32_t> prompt_ids;
  SamplingParams sampling;
  std::int32_t n = 1;
  std::int32_t priority = 0;
  std::optional<double> ttft_deadline_ms;
  std::string tenant;
};

using ChoiceCallback = std::function<void(int choice, StreamEvent event)>;

struct Submission {
  Status status;
  // Engine requests accepted. On error these were cancelled, but each still
  // delivers its final event through the callback: wait for them all.
  std::vector<RequestId> engine_ids;
};

Submission submit_choices(ServingContext& ctx, const GenerationSpec& spec, const ChoiceCallback& callback);

}  // namespace pagoda::server
