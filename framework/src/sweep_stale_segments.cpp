#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "proctor/shared_segment.hpp"
#include "segment_name.hpp"

namespace proctor {

namespace {

/// True if `entry` in /dev/shm is a proctor segment of this user whose creator no longer runs.
bool is_stale(int dir_fd, const char* entry) {
  auto run = detail::parse_segment_name(entry);
  if (!run)
    return false;
  struct stat st{};
  if (::fstatat(dir_fd, entry, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)
      || st.st_uid != ::geteuid())
    return false;
  return detail::run_ended(run->pid, run->start_time);
}

} // namespace

std::size_t sweep_stale_segments() noexcept {
  std::size_t removed = 0;
  try {
    std::unique_ptr<DIR, int (*)(DIR*)> dir{::opendir("/dev/shm"), &::closedir};
    if (!dir)
      return 0;
    while (dirent* e = ::readdir(dir.get())) {
      // Another process sweeping at the same time may remove the entry first: ENOENT is fine.
      if (!is_stale(::dirfd(dir.get()), e->d_name))
        continue;
      std::string name = "/";
      name += e->d_name;
      if (::shm_unlink(name.c_str()) == 0)
        ++removed;
    }
  } catch (...) {
    // Sweeping is housekeeping: an allocation failure leaves the rest for the next start.
  }
  return removed;
}

} // namespace proctor
