#include "scheduler/clock.h"

#include <chrono>

namespace pagoda {

double steady_clock_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace pagoda
