// ServeProcess: the `pagoda` binary (PAGODA_BINARY) as a child process, as an
// operator starts it, for tests that signal or kill it. Its stdout is read on
// a thread: ports from its start-up announcements, every line kept.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace pagoda::server::testing {

// The `pagoda serve` child process: its ports come from its own start-up
// announcements on stdout ("grpc listening on 127.0.0.1:PORT").
class ServeProcess {
  using Clock = std::chrono::steady_clock;

 public:
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  // Starts `pagoda args...`; true once it announced both API ports, or (with
  // wait_for_ports false) as soon as it runs.
  bool start(const std::vector<std::string>& args, bool wait_for_ports = true) {
    int out[2];
    if (pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(PAGODA_BINARY));
      for (const std::string& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(PAGODA_BINARY, argv.data());
      _exit(127);
    }
    close(out[1]);
    reader_ = std::thread([this, fd = out[0]] { read_stdout(fd); });
    if (!wait_for_ports) return true;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    std::unique_lock<std::mutex> lock(mutex_);
    while ((grpc_port_ == 0 || http_port_ == 0) && !stdout_closed_ && Clock::now() < deadline) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lock.lock();
    }
    return grpc_port_ != 0 && http_port_ != 0;
  }

  // The exit code, or -1 if it did not exit normally within `timeout`.
  int wait_exit(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // True once a line of its stdout contains `needle`.
  bool wait_for_output(const std::string& needle, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mutex_);
    while (Clock::now() < deadline) {
      for (const std::string& l : lines_)
        if (l.find(needle) != std::string::npos) return true;
      if (stdout_closed_) return false;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lock.lock();
    }
    return false;
  }

  pid_t pid() const { return pid_; }
  int grpc_port() {
    std::lock_guard<std::mutex> lock(mutex_);
    return grpc_port_;
  }
  int http_port() {
    std::lock_guard<std::mutex> lock(mutex_);
    return http_port_;
  }
  // 0 until the process announced its /metrics listener.
  int metrics_port() {
    std::lock_guard<std::mutex> lock(mutex_);
    return metrics_port_;
  }

 private:
  void read_stdout(int fd) {
    const std::regex listening(R"((grpc|http|metrics) listening on [^ ]*:([0-9]+))");
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1) {
      if (c != '\n') {
        line.push_back(c);
        continue;
      }
      std::smatch m;
      std::lock_guard<std::mutex> lock(mutex_);
      if (std::regex_search(line, m, listening))
        (m[1] == "grpc" ? grpc_port_ : m[1] == "http" ? http_port_ : metrics_port_) = std::stoi(m[2]);
      lines_.push_back(line);
      line.clear();
    }
    close(fd);
    std::lock_guard<std::mutex> lock(mutex_);
    stdout_closed_ = true;
  }

  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  int grpc_port_ = 0, http_port_ = 0, metrics_port_ = 0;  // guarded by mutex_
  bool stdout_closed_ = false;                            // guarded by mutex_
  std::vector<std::string> lines_;                        // guarded by mutex_
};

}  // namespace pagoda::server::testing
