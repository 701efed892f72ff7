#include "server/worker_node.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "engine/multinode/node_worker.h"
#include "server/logging.h"
#include "server/metric_family.h"
#include "server/server.h"

namespace pagoda::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// The worker's /metrics: that it is alive, which node it is and how many steps it ran.
class WorkerCollectable final : public prometheus::Collectable {
 public:
  WorkerCollectable(int node_rank, int nnodes) : node_rank_(node_rank), nnodes_(nnodes) {}
  void attach(const multinode::NodeWorker* worker) { worker_.store(worker, std::memory_order_release); }

  std::vector<MetricFamily> Collect() const override {
    const multinode::NodeWorker* w = worker_.load(std::memory_order_acquire);
    std::vector<MetricFamily> out;
    auto add = [&](const char* name, const char* help, MetricType type, double value) {
      out.push_back(single_sample_family(
          name, help, type, value,
          {{"node_rank", std::to_string(node_rank_)}, {"nnodes", std::to_string(nnodes_)}}));
    };
    add("pagoda_node_joined", "1 once this worker node has joined the leader's group", MetricType::Gauge,
        w != nullptr ? 1.0 : 0.0);
    add("pagoda_node_steps_total", "Steps this worker node ran for the leader", MetricType::Counter,
        w != nullptr ? static_cast<double>(w->steps_run()) : 0.0);
    return out;
  }

 private:
  int node_rank_;
  int nnodes_;
  std::atomic<const multinode::NodeWorker*> worker_{nullptr};
};

}  // namespace

int run_worker_node(const ServeOptions& o, const std::function<void(const std::string&)>& announce) {
  Status valid = o.validate();
  if (!valid.ok()) {
    log_line(LogLevel::kError, "invalid options", {{"error", valid.message()}});
    return 1;
  }
  auto collectable = std::make_shared<WorkerCollectable>(o.node_rank, o.nnodes);
  std::unique_ptr<prometheus::Exposer> exposer;
  if (o.enable_metrics) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(o.host + ":" + std::to_string(o.metrics_port));
    } catch (const std::exception& e) {
      log_line(LogLevel::kError, "metrics listener failed", {{"error", e.what()}});
      return 1;
    }
    exposer->RegisterCollectable(collectable);
    const auto ports = exposer->GetListeningPorts();
    announce("metrics listening on " + o.host + ":" + std::to_string(ports.empty() ? 0 : ports.front()));
  }
  // After SIGTERM the leader drains and then stops the group; wait for that,
  // but not past the shutdown timeout (plus a margin for the leader's own exit).
  std::thread([timeout_s = o.shutdown_timeout_s] {
    const int sig = wait_for_termination_signal();
    log_line(LogLevel::kInfo, "signal received; running steps until the leader stops the group",
             {{"signal", sig}, {"timeout_s", timeout_s}});
    std::this_thread::sleep_for(std::chrono::duration<double>(timeout_s + 10.0));
    log_line(LogLevel::kError, "the leader did not stop the group within the shutdown timeout; exiting");
    std::_Exit(1);
  }).detach();

  log_line(LogLevel::kInfo, "joining the group",
           {{"node_rank", o.node_rank},
            {"nnodes", o.nnodes},
            {"leader", o.leader_address},
            {"leader_port", o.leader_port}});
  const auto t0 = std::chrono::steady_clock::now();
  StatusOr<std::unique_ptr<multinode::NodeWorker>> worker = load_node_worker(o.engine_load_options());
  if (!worker.ok()) {
    log_line(LogLevel::kError, "could not join the group", {{"error", worker.status().message()}});
    return 1;
  }
  collectable->attach(worker->get());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log_line(LogLevel::kInfo, "joined",
           {{"node_rank", o.node_rank},
            {"backend", (*worker)->runner().backend_name()},
            {"tp", (*worker)->runner().tensor_parallel_size()},
            {"kv_blocks", (*worker)->runner().kv_cache_info().num_blocks},
            {"load_s", secs}});
  announce("node " + std::to_string(o.node_rank) + " of " + std::to_string(o.nnodes) + " joined " +
           o.leader_address + ":" + std::to_string(o.leader_port));
  Status ran = (*worker)->run();
  exposer.reset();  // no scrape may read the worker once it is gone
  if (!ran.ok()) {
    log_line(LogLevel::kError, "the group broke",
             {{"error", ran.message()}, {"steps", (*worker)->steps_run()}});
    return 1;
  }
  log_line(LogLevel::kInfo, "the leader stopped the group", {{"steps", (*worker)->steps_run()}});
  return 0;
}

}  // namespace pagoda::server
