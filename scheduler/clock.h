// Clock: where the scheduler reads the time. Injected so tests and the simulator
// are deterministic; production uses steady_clock_ms(). Called on the step
// thread only (the function itself must be safe to call from that thread).
#pragma once

#include <functional>

namespace pagoda {

// Milliseconds since an arbitrary, fixed epoch; never decreases.
using Clock = std::function<double()>;

// std::chrono::steady_clock in milliseconds.
double steady_clock_ms();

}  // namespace pagoda
