#include "segment_name.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include "proctor/shm_error.hpp"
#include "sys.hpp"

namespace proctor::detail {

namespace {

constexpr std::size_t random_bytes = 16;

template <class Int>
bool parse_decimal(std::string_view text, Int& out) noexcept {
  if (text.empty() || text.size() > 20)
    return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool is_lower_hex(std::string_view text) noexcept {
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace

run_check check_run(pid_t pid, std::optional<std::uint64_t> start_time) noexcept {
  if (pid <= 0)
    return run_check::ended;
  errno = 0;
  auto st = read_proc_stat(pid);
  if (!st) // gone only if the kernel said so; a stat that did not parse says nothing
    return errno == ENOENT || errno == ESRCH ? run_check::ended : run_check::unknown;
  if (st->state == 'Z' || st->state == 'X' || st->state == 'x')
    return run_check::ended;
  return start_time && st->start_time != *start_time ? run_check::ended : run_check::running;
}

pinned_run pin_run(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0)
    return {{}, run_check::ended, {}};
  unique_fd fd = open_pidfd(pid);
  if (!fd) {
    int err = errno;
    if (short_of_resources(err)) // the process may well live
      return {{}, run_check::unknown, std::string{"pidfd_open: "} + std::strerror(err)};
    return {{}, run_check::ended, {}};
  }
  // The pidfd pins whatever runs under `pid` now: the right one only if /proc says so.
  switch (check_run(pid, start_time)) {
    case run_check::running:
      return {std::move(fd), run_check::running, {}};
    case run_check::ended:
      return {{}, run_check::ended, {}};
    case run_check::unknown:
      break;
  }
  return {{}, run_check::unknown,
          "cannot read /proc to tell whether pid " + std::to_string(pid) + " is the one named"};
}

segment_run current_run() {
  // Read once per process: every segment this process creates is named after it. A forked child
  // has another pid, and so reads its own.
  static std::atomic<pid_t> cached_pid{0};
  static std::atomic<std::uint64_t> cached_start{0};
  pid_t pid = ::getpid();
  if (cached_pid.load(std::memory_order_acquire) == pid)
    return segment_run{pid, cached_start.load(std::memory_order_relaxed)};
  auto st = read_proc_stat(pid);
  if (!st)
    throw shm_error(shm_errc::system, "shared_segment: cannot read /proc/self/stat");
  cached_start.store(st->start_time, std::memory_order_relaxed);
  cached_pid.store(pid, std::memory_order_release);
  return segment_run{pid, st->start_time};
}

std::string make_segment_name(const segment_run& run) {
  unsigned char bytes[random_bytes];
  std::size_t got = 0;
  while (got < random_bytes) {
    ssize_t n = ::getrandom(bytes + got, random_bytes - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw shm_error(shm_errc::system,
                      std::string{"shared_segment: getrandom: "} + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string name = "/";
  name += segment_prefix;
  name += std::to_string(run.pid) + "." + std::to_string(run.start_time) + "-";
  for (unsigned char b : bytes) {
    name += digits[b >> 4];
    name += digits[b & 0xf];
  }
  return name;
}

std::optional<segment_run> parse_segment_name(std::string_view name) noexcept {
  if (name.starts_with('/'))
    name.remove_prefix(1);
  if (!name.starts_with(segment_prefix))
    return std::nullopt;
  name.remove_prefix(segment_prefix.size());
  auto dot = name.find('.');
  auto dash = name.find('-');
  if (dot == std::string_view::npos || dash == std::string_view::npos || dash < dot)
    return std::nullopt;
  segment_run run;
  if (!parse_decimal(name.substr(0, dot), run.pid) || run.pid <= 0
      || !parse_decimal(name.substr(dot + 1, dash - dot - 1), run.start_time))
    return std::nullopt;
  auto random = name.substr(dash + 1);
  if (random.size() != 2 * random_bytes || !is_lower_hex(random))
    return std::nullopt;
  return run;
}

} // namespace proctor::detail
