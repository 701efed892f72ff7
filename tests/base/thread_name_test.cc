#include "base/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace pagoda {
namespace {

std::string name_of_new_thread(const std::string& name) {
  std::string seen;
  std::thread t([&] {
    set_current_thread_name(name);
    char buf[64] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    seen = buf;
  });
  t.join();
  return seen;
}

TEST(ThreadNameTest, NamesTheCallingThreadAndCutsAtFifteenBytes) {
  EXPECT_EQ(name_of_new_thread("pagoda-step"), "pagoda-step");
  EXPECT_EQ(name_of_new_thread("pagoda-a-very-long-name"), "pagoda-a-very-l");
}

}  // namespace
}  // namespace pagoda
