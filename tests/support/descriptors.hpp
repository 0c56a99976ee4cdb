#pragma once

// A process with no file descriptor to spare, for tests of what proctor does when it cannot open
// one (a segment, a pidfd, /proc).

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace proctor::test {

/// While it lives, this process can open at most `spare` more file descriptors: its soft
/// RLIMIT_NOFILE is lowered to the lowest free descriptor plus `spare`. restore(), or the end of
/// its scope, puts the limit back.
class descriptor_limit {
 public:
  explicit descriptor_limit(int spare = 0) {
    ::getrlimit(RLIMIT_NOFILE, &normal_);
    int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lowest_free < 0)
      return; // out already
    ::close(lowest_free);
    rlimit tight{static_cast<rlim_t>(lowest_free + spare), normal_.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &tight);
  }
  descriptor_limit(const descriptor_limit&) = delete;
  descriptor_limit& operator=(const descriptor_limit&) = delete;
  ~descriptor_limit() { restore(); }

  void restore() { ::setrlimit(RLIMIT_NOFILE, &normal_); }

 private:
  rlimit normal_{};
};

} // namespace proctor::test
