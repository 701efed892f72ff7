#include "bench/client/sweep.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "base/strings.h"

namespace pagoda::bench {

StatusOr<SweepSpec> parse_sweep(const std::string& text) {
  SweepSpec spec;
  std::size_t eq = text.find('=');
  std::string kind = text.substr(0, eq);
  if (eq == std::string::npos || (kind != "rate" && kind != "concurrency"))
    return invalid_argument("--sweep: expected rate=R1,R2,... or concurrency=C1,C2,..., got '" + text + "'");
  spec.kind = kind == "rate" ? SweepSpec::Kind::kRate : SweepSpec::Kind::kConcurrency;
  for (std::string_view view : split(std::string_view(text).substr(eq + 1), ',')) {
    std::string item(trim(view));
    if (item.empty()) continue;
    double v = 0;
    if (item == "inf" && spec.kind == SweepSpec::Kind::kRate) {
      v = std::numeric_limits<double>::infinity();
    } else {
      char* end = nullptr;
      v = std::strtod(item.c_str(), &end);
      bool integral = spec.kind == SweepSpec::Kind::kRate || v == std::floor(v);
      if (end != item.c_str() + item.size() || !(v > 0) || !std::isfinite(v) || !integral)
        return invalid_argument("--sweep: '" + item + "' is not a positive " +
                                (spec.kind == SweepSpec::Kind::kRate ? "rate (or inf)" : "integer"));
    }
    if (!spec.levels.empty() && !(v > spec.levels.back()))
      return invalid_argument("--sweep: levels must increase ('" + item + "')");
    spec.levels.push_back(v);
  }
  if (spec.levels.size() < 2) return invalid_argument("--sweep: give at least two levels");
  return spec;
}

void find_saturation(BenchResult& result, double min_gain) {
  result.saturation_index = -1;
  result.saturation_reason.clear();
  const std::vector<BenchRun>& runs = result.runs;
  for (std::size_t i = 1; i < runs.size(); ++i) {
    const BenchSummary& prev = runs[i - 1].summary;
    const BenchSummary& cur = runs[i].summary;
    char why[256];
    if (cur.failed > 0 && prev.failed == 0) {
      std::snprintf(why, sizeof(why), "%s: %lld requests failed", runs[i].label.c_str(),
                    static_cast<long long>(cur.failed));
    } else if (prev.output_throughput > 0 &&
               cur.output_throughput < prev.output_throughput * (1.0 + min_gain)) {
      std::snprintf(why, sizeof(why),
                    "%s -> %s: output throughput %.1f -> %.1f tok/s (%+.1f%%), median TPOT %.1f -> %.1f ms",
                    runs[i - 1].label.c_str(), runs[i].label.c_str(), prev.output_throughput,
                    cur.output_throughput, 100.0 * (cur.output_throughput / prev.output_throughput - 1.0),
                    prev.tpot_ms.median, cur.tpot_ms.median);
    } else {
      continue;
    }
    result.saturation_index = static_cast<int>(i - 1);
    result.saturation_reason = why;
    return;
  }
}

}  // namespace pagoda::bench
