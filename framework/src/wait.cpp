#include "proctor/wait.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>

#include "futex.hpp"

namespace proctor {

namespace {

using clock = std::chrono::steady_clock;

/// How long a wait for connections sleeps at most before it looks again whether a peer died
/// without closing its end (connection::poll() looks as often).
constexpr auto eof_slice = std::chrono::milliseconds{100};
/// The same when processes or descriptors are waited for too: there is no sleeping on futex
/// words and descriptors at once, so the descriptors are polled this often.
constexpr auto descriptor_slice = std::chrono::milliseconds{10};
/// The same when only queues are waited for: a look now and then all the same, as every sleep
/// on a ring's word ends (a put whose waker died wakes nobody).
constexpr auto queue_slice = std::chrono::seconds{1};

/// Counts the caller as a multi-waiter of each ring while it exists: a put that comes after the
/// caller's look then bumps the ring's word and wakes every sleeper, the caller included (see
/// ring::words_for_readers()).
class counted_waiter {
 public:
  explicit counted_waiter(const std::vector<detail::ring::reader_words>& words) : words_(words) {
    for (auto& w : words_)
      w.waiting->fetch_add(detail::ring::multi_waiter); // seq_cst: before the look at the ring
  }
  ~counted_waiter() {
    for (auto& w : words_)
      w.waiting->fetch_sub(detail::ring::multi_waiter);
  }
  counted_waiter(const counted_waiter&) = delete;
  counted_waiter& operator=(const counted_waiter&) = delete;

 private:
  const std::vector<detail::ring::reader_words>& words_;
};

/// poll() on `fds` for `ms` (-1: no limit); their revents say which had an event.
void poll_descriptors(std::vector<pollfd>& fds, int ms) {
  if (fds.empty())
    return;
  for (;;) {
    int rc = ::poll(fds.data(), fds.size(), ms);
    if (rc >= 0)
      return;
    if (errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "proctor::wait: poll");
    ms = 0; // a signal: the caller looks at everything again
  }
}

int ms_until(std::optional<clock::time_point> until) {
  if (!until)
    return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*until - clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 24 * 3600 * 1000));
}

} // namespace

waitable::waitable(const process& p) : fd_(p.sentinel()) {}

waitable waitable::descriptor(int fd) {
  if (fd < 0)
    throw std::invalid_argument("proctor::wait: a negative file descriptor ("
                                + std::to_string(fd) + ")");
  waitable w;
  w.fd_ = fd;
  return w;
}

std::vector<std::size_t> wait(std::span<const waitable> objects,
                              std::optional<clock::duration> timeout) {
  std::optional<clock::time_point> until;
  if (timeout)
    until = clock::now() + std::max(*timeout, clock::duration::zero());
  if (objects.empty()) { // as Python's: sleeps out the timeout
    if (!until)
      throw std::invalid_argument("proctor::wait: nothing to wait for and no timeout: it would "
                                  "never return");
    std::this_thread::sleep_until(*until);
    return {};
  }

  std::vector<std::size_t> ring_at;      // positions in `objects` of the connections and queues
  std::vector<std::size_t> fd_at;        // ... and of the rest
  std::vector<detail::ring::reader_words> words;
  std::vector<pollfd> fds;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].ring_) {
      ring_at.push_back(i);
      words.push_back(objects[i].ring_->words_for_readers());
    } else {
      fd_at.push_back(i);
      fds.push_back({objects[i].fd_, POLLIN, 0});
    }
  }
  if (words.size() > detail::futex_wait_any_max)
    throw std::invalid_argument("proctor::wait: more than "
                                + std::to_string(detail::futex_wait_any_max)
                                + " connections and queues in one call ("
                                + std::to_string(words.size()) + ")");
  std::vector<const std::atomic<std::uint32_t>*> seq(words.size());
  std::vector<std::uint32_t> seen(words.size());
  std::vector<bool> is_ready(objects.size());
  const bool any_connection = std::any_of(objects.begin(), objects.end(),
                                          [](const waitable& w) { return w.ends_ != nullptr; });

  for (;;) {
    counted_waiter counted{words};
    // The words before the look: a put after the look has bumped them, and the sleep below
    // returns at once.
    for (std::size_t k = 0; k < words.size(); ++k) {
      seq[k] = words[k].seq;
      seen[k] = words[k].seq->load();
    }
    bool any = false;
    for (std::size_t k = 0; k < ring_at.size(); ++k) {
      const auto& w = objects[ring_at[k]];
      bool ready = w.ring_->readable() || (w.ends_ && !w.ends_->held(w.other_side_));
      is_ready[ring_at[k]] = ready;
      any = any || ready;
    }
    const bool only_descriptors = ring_at.empty();
    // Alone, the descriptors are waited for here; with connections, only looked at.
    poll_descriptors(fds, only_descriptors && !any ? ms_until(until) : 0);
    for (std::size_t k = 0; k < fd_at.size(); ++k) {
      bool ready = fds[k].revents != 0;
      is_ready[fd_at[k]] = ready;
      any = any || ready;
    }
    if (any) {
      std::vector<std::size_t> ready;
      for (std::size_t i = 0; i < objects.size(); ++i)
        if (is_ready[i])
          ready.push_back(i);
      return ready;
    }
    auto now = clock::now();
    if (until && now >= *until)
      return {};
    if (only_descriptors)
      continue; // poll() ended early (a signal): look again
    clock::duration slice = queue_slice;
    if (!fd_at.empty())
      slice = descriptor_slice;
    else if (any_connection)
      slice = eof_slice;
    auto wake_at = now + slice;
    if (until && *until < wake_at)
      wake_at = *until;
    detail::futex_wait_any(seq.data(), seen.data(), seq.size(), wake_at);
  }
}

} // namespace proctor
