// check(): aborts a fuzz target (a crash libFuzzer reports) when an invariant
// the code under test promises does not hold.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace pagoda::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

}  // namespace pagoda::fuzz
