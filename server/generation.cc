#include "server/generation.h"

namespace pagoda::server {

Submission submit_choices(ServingContext& ctx, const GenerationSpec& spec, const ChoiceCallback& callback) {
  Submission out;
  Engine& engine = ctx.engine();
  for (int i = 0; i < spec.n; ++i) {
    EngineRequest r;
    r.prompt_token_ids = spec.prompt_ids;
    r.sampling = spec.sampling;
    if (r.sampling.seed && i > 0) r.sampling.seed = *r.sampling.seed + static_cast<std::uint64_t>(i);
    r.priority = spec.priority;
    r.tenant = spec.tenant;
    r.ttft_deadline_ms = spec.ttft_deadline_ms;
    StatusOr<RequestId> id =
        engine.submit(std::move(r), [callback, i](StreamEvent e) { callback(i, std::move(e)); });
    if (!id.ok()) {
      out.status = id.status();
      for (RequestId prev : out.engine_ids)
        engine.cancel(prev);
      return out;
    }
    out.engine_ids.push_back(*id);
  }
  return out;
}

}  // namespace pagoda::server
