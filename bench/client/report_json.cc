// to_json (declared in report_writer.h).
#include <cmath>
#include <nlohmann/json.hpp>

#include "bench/client/report_util.h"
#include "bench/client/report_writer.h"

namespace pagoda::bench {

namespace {

using json = nlohmann::ordered_json;

// JSON has no infinity or NaN: they are written as strings.
json num(double v) {
  if (std::isfinite(v)) return v;
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

json distribution_json(const Distribution& d) {
  json j;
  j["count"] = d.count;
  j["mean"] = num(d.mean);
  j["median"] = num(d.median);
  j["stddev"] = num(d.stddev);
  j["min"] = num(d.min);
  j["max"] = num(d.max);
  for (const auto& [p, v] : d.percentiles)
    j[percentile_name(p)] = num(v);
  return j;
}

json slo_json(const Slo& s) {
  return json{{"ttft_ms", num(s.ttft_ms)},
              {"tpot_ms", num(s.tpot_ms)},
              {"itl_ms", num(s.itl_ms)},
              {"e2e_ms", num(s.e2e_ms)}};
}

json summary_json(const BenchSummary& s) {
  json j;
  j["completed"] = s.completed;
  j["failed"] = s.failed;
  j["errors"] = json::object();
  for (const auto& [kind, count] : s.errors)
    j["errors"][kind] = count;
  j["duration_s"] = num(s.duration_s);
  j["total_input_tokens"] = s.total_input_tokens;
  j["total_output_tokens"] = s.total_output_tokens;
  j["request_throughput"] = num(s.request_throughput);
  j["input_throughput"] = num(s.input_throughput);
  j["output_throughput"] = num(s.output_throughput);
  j["total_throughput"] = num(s.total_throughput);
  j["ttft_ms"] = distribution_json(s.ttft_ms);
  j["tpot_ms"] = distribution_json(s.tpot_ms);
  j["itl_ms"] = distribution_json(s.itl_ms);
  j["e2e_ms"] = distribution_json(s.e2e_ms);
  j["slo"] = slo_json(s.slo);
  j["good_requests"] = s.good_requests;
  j["goodput"] = num(s.goodput);
  j["usage_mismatches"] = s.usage_mismatches;
  j["usage_reported"] = s.usage_reported;
  return j;
}

json server_json(const ServerView& v) {
  json j;
  j["available"] = v.available;
  j["error"] = v.error;
  j["num_samples"] = v.num_samples;
  j["kv_cache_usage_mean"] = num(v.kv_cache_usage_mean);
  j["kv_cache_usage_max"] = num(v.kv_cache_usage_max);
  j["num_waiting_mean"] = num(v.num_waiting_mean);
  j["num_waiting_max"] = num(v.num_waiting_max);
  j["num_running_mean"] = num(v.num_running_mean);
  j["num_running_max"] = num(v.num_running_max);
  j["preemptions"] = num(v.preemptions);
  j["prefix_cache_queries"] = num(v.prefix_cache_queries);
  j["prefix_cache_hits"] = num(v.prefix_cache_hits);
  j["prefix_cache_hit_rate"] = num(v.prefix_cache_hit_rate);
  j["prompt_tokens"] = num(v.prompt_tokens);
  j["generation_tokens"] = num(v.generation_tokens);
  return j;
}

json record_json(const RequestRecord& r) {
  json j;
  j["index"] = r.index;
  j["warmup"] = r.warmup;
  j["ok"] = r.ok;
  j["error_kind"] = r.error_kind;
  j["error_message"] = r.error_message;
  j["start_s"] = num(r.start_s);
  j["ttft_s"] = num(r.ttft_s);
  j["e2e_s"] = num(r.e2e_s);
  json itl = json::array();
  for (double gap : r.itl_s)
    itl.push_back(num(gap));
  j["itl_s"] = std::move(itl);
  j["prompt_tokens"] = r.prompt_tokens;
  j["stream_tokens"] = r.stream_tokens;
  j["usage_prompt_tokens"] = r.usage_prompt_tokens;
  j["usage_completion_tokens"] = r.usage_completion_tokens;
  return j;
}

}  // namespace

std::string to_json(const BenchResult& result, bool include_records) {
  json j;
  j["protocol"] = result.protocol;
  j["target"] = result.target;
  j["model"] = result.model;
  j["workload"] = result.workload;
  j["seed"] = result.seed;
  j["started_at"] = result.started_at;
  j["client_version"] = result.client_version;
  json ps = json::array();
  for (double p : result.percentiles)
    ps.push_back(num(p));
  j["percentiles"] = std::move(ps);
  j["saturation_index"] = result.saturation_index;
  j["saturation_reason"] = result.saturation_reason;
  json runs = json::array();
  for (const BenchRun& run : result.runs) {
    json r;
    r["label"] = run.label;
    r["request_rate"] = num(run.request_rate);
    r["burstiness"] = num(run.burstiness);
    r["max_concurrency"] = run.max_concurrency;
    r["achieved_rate"] = num(run.achieved_rate);
    r["summary"] = summary_json(run.summary);
    r["server"] = server_json(run.server);
    if (include_records) {
      json records = json::array();
      for (const RequestRecord& rec : run.records)
        records.push_back(record_json(rec));
      r["records"] = std::move(records);
    }
    runs.push_back(std::move(r));
  }
  j["runs"] = std::move(runs);
  // Error messages come from servers and may hold invalid UTF-8: replace it
  // rather than throw.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace pagoda::bench
