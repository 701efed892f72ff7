#include "bench/client/load_runner.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <mutex>
#include <thread>

#include "bench/client/arrival_schedule.h"

namespace pagoda::bench {
namespace {

// In-flight bookkeeping shared with completion callbacks.
class Inflight {
 public:
  void on_sent() {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  void on_done(RequestRecord record) {
    std::lock_guard lock(mu_);
    --in_flight_;
    if (!record.ok) ++num_failed_;
    records_.push_back(std::move(record));
    last_done_ = BenchClock::now();
    cv_.notify_all();
  }
  // Waits until fewer than `limit` are in flight (limit <= 0: no wait).
  void wait_below(int limit) {
    if (limit <= 0) return;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < limit; });
  }
  // Waits for every sent request; calls tick about twice a second meanwhile.
  void wait_all(const std::function<void()>& tick) {
    std::unique_lock lock(mu_);
    while (in_flight_ > 0) {
      cv_.wait_for(lock, std::chrono::milliseconds(500));
      lock.unlock();
      tick();
      lock.lock();
    }
  }
  std::vector<RequestRecord> take() {
    std::lock_guard lock(mu_);
    return std::move(records_);
  }
  std::int64_t num_done() {
    std::lock_guard lock(mu_);
    return static_cast<std::int64_t>(records_.size());
  }
  std::int64_t num_failed() {
    std::lock_guard lock(mu_);
    return num_failed_;
  }
  BenchClock::time_point last_done() {
    std::lock_guard lock(mu_);
    return last_done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::int64_t num_failed_ = 0;
  std::vector<RequestRecord> records_;
  BenchClock::time_point last_done_{};
};

// "\r[label] 120/500 done  4.1 req/s  0 errors" on stderr, throttled by the caller.
void print_progress(const LoadOptions& o, std::int64_t done, std::int64_t total, std::int64_t failed,
                    double elapsed_s) {
  double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
  if (total > 0) {
    int width = 30;
    int filled = static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total));
    std::fprintf(stderr, "\r%s [%-*s] %lld/%lld done  %.2f req/s  %lld errors   ", o.label.c_str(), width,
                 std::string(static_cast<std::size_t>(std::min(filled, width)), '#').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), rate,
                 static_cast<long long>(failed));
  } else {
    std::fprintf(stderr, "\r%s %lld done  %.1f s  %.2f req/s  %lld errors   ", o.label.c_str(),
                 static_cast<long long>(done), elapsed_s, rate, static_cast<long long>(failed));
  }
  std::fflush(stderr);
}

void sleep_until(BenchClock::time_point t) {
  if (t > BenchClock::now()) std::this_thread::sleep_until(t);
}

}  // namespace

LoadOutcome run_load(TargetClient& client, const std::vector<BenchRequest>& requests, const LoadOptions& o,
                     const std::function<void()>& on_measured_start) {
  LoadOutcome out;
  if (requests.empty()) return out;
  Inflight inflight;
  auto send = [&](const BenchRequest& r, BenchClock::time_point epoch, bool warmup) {
    inflight.on_sent();
    client.send(r, epoch, [&inflight, warmup](RequestRecord rec) {
      rec.warmup = warmup;
      inflight.on_done(std::move(rec));
    });
  };

  // Warm-up: the first requests of the workload, sent under the concurrency
  // cap and waited for, so connections, caches and the server's graphs are hot.
  BenchClock::time_point warm_epoch = BenchClock::now();
  for (std::int64_t i = 0; i < o.num_warmup; ++i) {
    inflight.wait_below(o.max_concurrency);
    send(requests[static_cast<std::size_t>(i) % requests.size()], warm_epoch, true);
  }
  inflight.wait_all([] {});
  std::vector<RequestRecord> warm = inflight.take();
  if (on_measured_start) on_measured_start();

  bool timed = o.duration_s > 0;
  std::int64_t count =
      timed ? std::numeric_limits<std::int64_t>::max() : static_cast<std::int64_t>(requests.size());
  // A timed run draws arrivals in batches; a count run all at once.
  std::int64_t batch = timed ? 4096 : count;
  bool unlimited_rate = !(o.request_rate > 0) || !std::isfinite(o.request_rate);

  BenchClock::time_point epoch = BenchClock::now();
  BenchClock::time_point next_progress = epoch;
  BenchClock::time_point deadline =
      epoch + std::chrono::microseconds(static_cast<std::int64_t>(o.duration_s * 1e6));
  auto tick = [&] {
    BenchClock::time_point now = BenchClock::now();
    if (!o.progress || now < next_progress) return;
    next_progress = now + std::chrono::milliseconds(250);
    print_progress(o, inflight.num_done(), timed ? 0 : count, inflight.num_failed(),
                   std::chrono::duration<double>(now - epoch).count());
  };
  std::int64_t sent = 0;
  double offset_s = 0;  // start of the current batch of arrivals
  for (std::int64_t start = 0; start < count; start += batch) {
    std::vector<double> times = arrival_times(std::min(batch, count - start), o.request_rate, o.burstiness,
                                              o.seed + static_cast<std::uint64_t>(start));
    bool stop = false;
    for (double t : times) {
      BenchClock::time_point at =
          epoch + std::chrono::microseconds(static_cast<std::int64_t>((offset_s + t) * 1e6));
      if (timed && (at >= deadline || BenchClock::now() >= deadline)) {
        stop = true;
        break;
      }
      if (!unlimited_rate) sleep_until(at);
      inflight.wait_below(o.max_concurrency);
      if (timed && BenchClock::now() >= deadline) {
        stop = true;
        break;
      }
      send(requests[static_cast<std::size_t>(sent) % requests.size()], epoch, false);
      ++sent;
      tick();
    }
    if (stop) break;
    if (!times.empty()) offset_s += times.back() + (unlimited_rate ? 0 : 1.0 / o.request_rate);
  }
  double send_phase_s = std::chrono::duration<double>(BenchClock::now() - epoch).count();
  inflight.wait_all(tick);
  if (o.progress) {
    next_progress = BenchClock::now();
    tick();
    std::fprintf(stderr, "\n");
  }

  out.records = std::move(warm);
  std::vector<RequestRecord> measured = inflight.take();
  std::sort(measured.begin(), measured.end(),
            [](const RequestRecord& a, const RequestRecord& b) { return a.start_s < b.start_s; });
  for (RequestRecord& r : measured)
    out.records.push_back(std::move(r));
  out.duration_s = std::chrono::duration<double>(inflight.last_done() - epoch).count();
  out.achieved_rate = send_phase_s > 0 ? static_cast<double>(sent) / send_phase_s : 0;
  return out;
}

}  // namespace pagoda::bench
