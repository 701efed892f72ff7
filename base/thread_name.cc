#include "base/thread_name.h"

#include <pthread.h>

namespace pagoda {

void set_current_thread_name(const std::string& name) {
  constexpr std::size_t kMaxBytes = 15;  // the kernel's limit, without the NUL
  // Failure leaves the old name; nothing depends on it.
  (void)pthread_setname_np(pthread_self(), name.substr(0, kMaxBytes).c_str());
}

}  // namespace pagoda
