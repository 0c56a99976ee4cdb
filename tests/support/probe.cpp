#include "support/probe.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <proctor/current_process.hpp>

namespace proctor::test {

void probe_return() {}

void probe_exit(int code) {
  proctor::exit(code);
}

void probe_std_exit(int code) {
  std::exit(code);
}

void probe_throw(std::string stderr_path, std::string message) {
  int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  throw std::runtime_error(message);
}

void probe_raise(int sig) {
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::raise(sig);
}

void probe_sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void probe_ignore_sigterm_then_sleep_ms(int ms) {
  ::signal(SIGTERM, SIG_IGN);
  probe_sleep_ms(ms);
}

void probe_identity(std::string path) {
  auto self = proctor::current_process();
  auto parent = proctor::parent_process();
  std::ofstream out(path);
  out << self.name << '\n'
      << self.pid << '\n'
      << (parent ? parent->name : "-") << '\n'
      << (parent ? parent->pid : 0) << '\n'
      << self.daemon << '\n'
      << ::getpid() << '\n';
}

void probe_check_payload(std::string payload, unsigned long size, unsigned long sum) {
  proctor::exit(payload.size() == size && checksum(payload) == sum ? 0 : 3);
}

unsigned long checksum(const std::string& bytes) {
  unsigned long h = 1469598103934665603ul;
  for (unsigned char c : bytes)
    h = (h ^ c) * 1099511628211ul;
  return h;
}

temp_file::temp_file() {
  std::string pattern = "/tmp/proctor-test-XXXXXX";
  int fd = ::mkstemp(pattern.data());
  if (fd >= 0)
    ::close(fd);
  path_ = pattern;
}

temp_file::~temp_file() {
  ::unlink(path_.c_str());
}

std::string temp_file::read() const {
  std::ifstream in(path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace proctor::test
