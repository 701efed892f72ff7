// single_sample_family: a Prometheus metric family of one gauge or counter
// sample, for collectables that read their values at scrape time (the
// engine's statistics, a worker node's progress). Any thread.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <string>
#include <utility>
#include <vector>

namespace pagoda::server {

inline prometheus::MetricFamily single_sample_family(
    std::string name, std::string help, prometheus::MetricType type, double value,
    std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace pagoda::server
