// Communicator: collective operations across the tensor-parallel ranks of one
// model (all-reduce, all-gather, broadcast). Each rank holds its own instance
// and calls every collective in the same order as the other ranks; a call
// returns when the collective is complete for this rank. Results are summed in
// rank order, so they are the same on every rank and on every run.
#pragma once

#include <cstdint>

#include "base/status.h"

namespace pagoda {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // data[i] = sum over ranks of data[i], in place.
  virtual void all_reduce_sum(float* data, std::int64_t count) = 0;
  // recv[r * count + i] = rank r's send[i].
  virtual void all_gather(const float* send, std::int64_t count, float* recv) = 0;
  // Copies `bytes` from the root rank's `data` to every other rank's `data`.
  virtual void broadcast(void* data, std::int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // The first failure of a collective (a lost peer, a device error); once set,
  // the outputs of this and later collectives are unspecified.
  virtual Status error() const { return ok_status(); }
};

}  // namespace pagoda
