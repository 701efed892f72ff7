// NCCL for the SIMT emulator: the calls NcclCommunicator makes, between the
// ranks of one process (threads, one emulated device each). A collective runs
// in stream order on each rank (at once, or when a captured graph replays it)
// and meets the other ranks there: every rank posts its buffers, each computes
// its result from all of them into scratch (sums in rank order), and only once
// every rank has read does each write its output, so in-place calls are safe.
// Ranks joined by ncclCommInitRank meet through the unique id, as NCCL's do,
// and each waits until every rank of the id has joined (at ncclGroupEnd when
// it joined inside a group); NCCL waits for ever there, the emulator for
// kJoinWaitS seconds and then fails the process, naming the rule.
// ncclCommAbort on any rank fails every collective of the clique then waiting
// or issued later (ncclCommGetAsyncError: ncclRemoteError), as NCCL's do on
// other nodes when a peer's connections close. (Within one process NCCL would
// leave a peer's kernel waiting until that rank aborts too; here a collective
// runs at once on its rank's thread, which could not get to its abort.)
// Destroying or aborting a communicator while a CUDA graph that captured one
// of its collectives is alive fails the process: NCCL would wait forever.
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "tests/cuda/simt/simt_runtime.h"

namespace {

// The ranks of one communicator; what each posts for the collective in flight.
struct Clique {
  explicit Clique(int n) : size(n), sends(static_cast<std::size_t>(n)) {}

  // Waits until every rank has arrived at the same point (generation
  // counting); false, at once, when a rank has aborted.
  bool barrier() {
    std::unique_lock<std::mutex> lock(mutex);
    if (aborted) return false;
    const std::uint64_t gen = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      cv.notify_all();
    } else {
      cv.wait(lock, [&] { return generation != gen || aborted; });
    }
    return !aborted;
  }

  void abort() {
    std::lock_guard<std::mutex> lock(mutex);
    aborted = true;
    cv.notify_all();
  }

  // ncclCommInitRank: a rank has joined.
  void join() {
    std::lock_guard<std::mutex> lock(mutex);
    ++joined;
    cv.notify_all();
  }
  // Waits until every rank has joined, for at most kJoinWaitS seconds; then
  // fails the process (NCCL would wait for ever), naming `call` and `rank`.
  void await_all_joined(int rank, const char* call);

  const int size;
  std::mutex mutex;
  std::condition_variable cv;
  int joined = 0;  // ranks that called ncclCommInitRank (ncclCommInitAll: all at once)
  int arrived = 0;
  std::uint64_t generation = 0;
  bool aborted = false;
  std::vector<const void*> sends;
};

constexpr int kJoinWaitS = 60;

void Clique::await_all_joined(int rank, const char* call) {
  std::unique_lock<std::mutex> lock(mutex);
  if (cv.wait_for(lock, std::chrono::seconds(kJoinWaitS), [&] { return joined >= size; })) return;
  std::fprintf(stderr,
               "simt: %s: rank %d waited %d s for the %d rank(s) of its %d that never joined; NCCL waits "
               "for them for ever\n",
               call, rank, kJoinWaitS, size - joined, size);
  std::abort();
}

std::mutex g_cliques_mutex;
std::map<std::string, std::shared_ptr<Clique>> g_cliques;  // by unique id, for ncclCommInitRank

}  // namespace

struct ncclComm {
  std::shared_ptr<Clique> clique;
  int rank;
  std::atomic<ncclResult_t> async_error{ncclSuccess};  // set by a collective the clique's abort failed
  // CUDA graphs holding a captured collective of this communicator.
  std::shared_ptr<std::atomic<int>> graph_refs = std::make_shared<std::atomic<int>>(0);
};

namespace {

// Posts `send`; once every rank has, `compute(sends)` fills scratch; once
// every rank has computed, scratch goes to `recv`.
// ncclGroupStart calls on this thread not yet ended. Pagoda groups only
// communicator initialisation, so a collective issued inside an open group
// (which NCCL would hold back until the group ends) means a group was left open.
thread_local int t_group_depth = 0;
// Ranks this thread joined inside its open group: they wait at ncclGroupEnd.
thread_local std::vector<std::pair<std::shared_ptr<Clique>, int>> t_group_joins;

// Held by each captured collective's op: counts the graphs (and their
// instantiations) that hold it, as NCCL's persistent plans do.
class GraphRef {
 public:
  explicit GraphRef(std::shared_ptr<std::atomic<int>> refs) : refs_(std::move(refs)) { ++*refs_; }
  ~GraphRef() { --*refs_; }
  GraphRef(const GraphRef&) = delete;
  GraphRef& operator=(const GraphRef&) = delete;

 private:
  std::shared_ptr<std::atomic<int>> refs_;
};

// NCCL 2.26 and later free a communicator (ncclCommDestroy, ncclCommAbort)
// only once every graph that captured its collectives is destroyed, and wait
// for that forever: here that wait fails the process, naming the rule.
void check_no_graph_holds(ncclComm_t comm, const char* call) {
  if (*comm->graph_refs == 0) return;
  std::fprintf(stderr,
               "simt: %s on a communicator whose collectives %d live CUDA graph(s) captured: NCCL waits "
               "for those graphs to be destroyed, forever (destroy them first)\n",
               call, comm->graph_refs->load());
  std::abort();
}

template <typename Compute>
ncclResult_t collective(ncclComm_t comm, const void* send, void* recv, std::size_t recv_bytes,
                        cudaStream_t stream, Compute compute) {
  if (comm == nullptr) return ncclInvalidArgument;
  if (t_group_depth > 0) return ncclInvalidUsage;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(stream, &capture);
  std::shared_ptr<GraphRef> held;
  if (capture == cudaStreamCaptureStatusActive) held = std::make_shared<GraphRef>(comm->graph_refs);
  const cudaError_t e = pagoda::simt::enqueue(stream, [=] {
    (void)held;
    Clique& c = *comm->clique;
    const auto failed = [comm] { comm->async_error = ncclRemoteError; };
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      c.sends[static_cast<std::size_t>(comm->rank)] = send;
    }
    if (!c.barrier()) return failed();
    std::vector<unsigned char> scratch(recv_bytes);
    compute(c.sends, scratch.data());
    if (!c.barrier()) return failed();
    std::memcpy(recv, scratch.data(), recv_bytes);
    // Nobody posts the next collective's buffers while another still reads these.
    if (!c.barrier()) return failed();
  });
  return e == cudaSuccess ? ncclSuccess : ncclUnhandledCudaError;
}

}  // namespace

extern "C" {

const char* ncclGetErrorString(ncclResult_t result) {
  if (result == ncclSuccess) return "no error";
  if (result == ncclRemoteError) return "a peer rank aborted (the SIMT emulator's NCCL)";
  return "NCCL call refused by the SIMT emulator's NCCL";
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  static std::mutex m;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard<std::mutex> lock(m);
  std::memset(id->internal, 0, sizeof id->internal);
  for (std::size_t i = 0; i < 32; i += 8) {  // 256 random bits name the clique
    const std::uint64_t v = rng();
    std::memcpy(id->internal + i, &v, 8);
  }
  return ncclSuccess;
}

ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* /*devlist*/) {
  if (ndev < 1) return ncclInvalidArgument;
  auto clique = std::make_shared<Clique>(ndev);
  clique->joined = ndev;
  for (int i = 0; i < ndev; ++i)
    comms[i] = new ncclComm{clique, i};
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  const std::string key(id.internal, sizeof id.internal);
  std::shared_ptr<Clique> clique;
  {
    std::lock_guard<std::mutex> lock(g_cliques_mutex);
    std::shared_ptr<Clique>& c = g_cliques[key];
    if (c == nullptr) c = std::make_shared<Clique>(nranks);
    if (c->size != nranks) return ncclInvalidArgument;
    clique = c;
  }
  *comm = new ncclComm{clique, rank};
  if (t_group_depth > 0) {
    t_group_joins.emplace_back(clique, rank);
  } else {
    clique->join();
    clique->await_all_joined(rank, "ncclCommInitRank");
  }
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclInvalidArgument;
  check_no_graph_holds(comm, "ncclCommDestroy");
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm == nullptr) return ncclInvalidArgument;
  check_no_graph_holds(comm, "ncclCommAbort");
  comm->clique->abort();
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* async_error) {
  if (comm == nullptr || async_error == nullptr) return ncclInvalidArgument;
  *async_error = comm->async_error.load();
  return ncclSuccess;
}

ncclResult_t ncclGroupStart() {
  ++t_group_depth;
  return ncclSuccess;
}
ncclResult_t ncclGroupEnd() {
  if (t_group_depth == 0) return ncclInvalidUsage;
  if (--t_group_depth > 0) return ncclSuccess;
  // The ranks joined in the group count as joined at once (each may be
  // another's peer), then each waits for the rest of its clique.
  std::vector<std::pair<std::shared_ptr<Clique>, int>> joins;
  joins.swap(t_group_joins);
  for (auto& [clique, rank] : joins)
    clique->join();
  for (auto& [clique, rank] : joins)
    clique->await_all_joined(rank, "ncclGroupEnd (ncclCommInitRank in the group)");
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
  if (type != ncclFloat32 || op != ncclSum) return ncclInvalidArgument;
  return collective(comm, send, recv, count * sizeof(float), stream,
                    [count](const std::vector<const void*>& sends, unsigned char* out) {
                      auto* sum = reinterpret_cast<float*>(out);
                      for (std::size_t i = 0; i < count; ++i) {
                        float s = 0.0f;
                        for (const void* p : sends)
                          s += static_cast<const float*>(p)[i];
                        sum[i] = s;
                      }
                    });
}

ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, ncclDataType_t type, ncclComm_t comm,
                           cudaStream_t stream) {
  if (type != ncclFloat32 || comm == nullptr) return ncclInvalidArgument;
  const std::size_t bytes = count * sizeof(float);
  return collective(comm, send, recv, bytes * static_cast<std::size_t>(comm->clique->size), stream,
                    [bytes](const std::vector<const void*>& sends, unsigned char* out) {
                      for (std::size_t r = 0; r < sends.size(); ++r)
                        std::memcpy(out + r * bytes, sends[r], bytes);
                    });
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root,
                           ncclComm_t comm, cudaStream_t stream) {
  if (type != ncclUint8 || comm == nullptr || root < 0 || root >= comm->clique->size)
    return ncclInvalidArgument;
  return collective(comm, send, recv, count, stream,
                    [count, root](const std::vector<const void*>& sends, unsigned char* out) {
                      std::memcpy(out, sends[static_cast<std::size_t>(root)], count);
                    });
}

}  // extern "C"
