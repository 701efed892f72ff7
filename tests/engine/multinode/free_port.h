// A port that was free a moment ago on 127.0.0.1, for a leader that must be
// told its port before it listens (tests only: another process may take it).
#pragma once

#include "engine/multinode/socket.h"

namespace pagoda::multinode::testing {

inline int free_port() {
  StatusOr<TcpListener> l = TcpListener::bind("127.0.0.1", 0);
  return l.ok() ? l->port() : 0;
}

}  // namespace pagoda::multinode::testing
