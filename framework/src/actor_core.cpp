#include "actor_core.hpp"

#include <boost/asio/post.hpp>

#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "exit_request.hpp"
#include "futex.hpp"
#include "poll_gate.hpp"
#include "proctor/system_messages.hpp"
#include "segment_name.hpp"
#include "spawn_internals.hpp"
#include "sys.hpp"

namespace proctor::detail {

/// The runtime's own messages (flag_system); the sender field names the actor they concern.
struct sys_link {};
struct sys_unlink {};
struct sys_exit {
  exit_reason reason;
  bool from_link = false; ///< A linked actor ended (dropped if the link is gone meanwhile).
};
struct sys_down {
  std::uint64_t monitor_id = 0;
  exit_reason reason;
};
struct sys_request_failed {
  std::uint64_t request_id = 0;
  exit_reason reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sys_link&) {
  return f(caf::meta::type_name("proctor::sys_link"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sys_unlink&) {
  return f(caf::meta::type_name("proctor::sys_unlink"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sys_exit& x) {
  return f(caf::meta::type_name("proctor::sys_exit"), x.reason, x.from_link);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sys_down& x) {
  return f(caf::meta::type_name("proctor::sys_down"), x.monitor_id, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sys_request_failed& x) {
  return f(caf::meta::type_name("proctor::sys_request_failed"), x.request_id, x.reason);
}

} // namespace proctor::detail

PROCTOR_MESSAGE(proctor::detail::sys_link, "proctor.sys.link");
PROCTOR_MESSAGE(proctor::detail::sys_unlink, "proctor.sys.unlink");
PROCTOR_MESSAGE(proctor::detail::sys_exit, "proctor.sys.exit");
PROCTOR_MESSAGE(proctor::detail::sys_down, "proctor.sys.down");
PROCTOR_MESSAGE(proctor::detail::sys_request_failed, "proctor.sys.request_failed");

namespace proctor::detail {

namespace {

/// The longest spin before sleeping: above a wake-up's cost on a quiet machine (tens of µs), so
/// that two busy partners that both fell asleep find their way back to spinning.
constexpr std::chrono::microseconds spin_time{100};
constexpr std::chrono::microseconds io_poll_interval{50};
/// How long a sleeping actor goes without looking at its mailbox by itself. It only matters when a
/// sender died between its put and its wake-up (the message then waits this long); every idle
/// actor pays one wake-up per period (10,000 idle actors: ~0.5% of a core at 60 s, ~4% at 10 s).
constexpr std::chrono::seconds futex_recheck{60};
/// How often a watch of a scoped_actor looks at its cell: the latency of its DOWN.
constexpr std::chrono::milliseconds scoped_watch_period{20};
/// Pause instructions between two yields while an actor spins (~1 µs in all here): a yield is a
/// system call (~0.25 µs) that a message arriving meanwhile waits out, but a spin that never
/// yields can keep a partner from a loaded machine's only free core.
constexpr unsigned pauses_per_yield = 64;
/// Pause instructions between two looks at the mailbox (~16 ns): an answer is seen about as soon
/// as it lands. With four (~64 ns), so that a sender finds the line it writes next less often
/// taken by a look, pingpong's round trip was ~20% longer and counting no faster, measured on
/// the same machine in the same run.
constexpr unsigned pauses_per_look = 1;
/// The same for an actor that sent nothing since it last waited (~0.5 µs), a sink nobody waits
/// on for an answer: a stream's sender then mostly finds the lines its next message goes to
/// still its own, and the actor takes the messages in batches (counting ran ~35% faster; a
/// message to an idle sink waits up to that much longer).
constexpr unsigned sink_pauses_per_look = 32;
static_assert(pauses_per_look >= 1 && sink_pauses_per_look <= pauses_per_yield,
              "idle_wait() looks at least once per yield");
constexpr std::chrono::microseconds looks_between_yields{1}; ///< what they take, about
constexpr std::size_t batch = 64;
/// A deadline that has passed: a ring call on the actor's own mailbox waits no longer than the
/// lock's grace (counted from the moment it finds the lock busy), and reads no clock when the
/// lock is free, as it nearly always is.
constexpr std::chrono::steady_clock::time_point grace_only{};

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

template <class T>
std::string encode(const T& value) {
  std::vector<char> scratch;
  auto bytes = item_bytes(value, scratch);
  return std::string{bytes};
}

template <class T>
T decode(const std::byte* data, std::size_t size) {
  T value = blank_value<T>();
  decode_item(data, size, value);
  return value;
}

} // namespace

actor_core::actor_core(actor_ref self, bool is_actor, shared_object own_cell, ring own_ring)
  : self_(std::move(self)), link_(own_link(self_, std::move(own_cell), std::move(own_ring))),
    is_actor_(is_actor) {
  if (link_ == nullptr)
    throw std::runtime_error("proctor: cannot map the actor's own mailbox");
  supervised_ = link_->cell().supervised != 0;
  // A record the previous incarnation handled but could not remove: removed, not handled again.
  auto handled = link_->cell().handled_pos.load(std::memory_order_acquire);
  if (supervised_ && handled != 0)
    unpopped_ = handled - 1;
  if (is_actor_)
    catch_sigterm();
  // The doorbell and the rest of the loop's descriptors come when first needed (wait_in_loop()):
  // an actor that only ever waits for its mailbox sleeps on a futex and never makes them. Made
  // now by a scoped_actor (it always sleeps in its loop) and by an actor with a limit on open
  // files: running out of descriptors fails its start, not its first timer or request.
  if (!is_actor_ || link_->cell().limit_files != 0)
    wait_in_loop();
}

void actor_core::wait_in_loop() {
  if (bell_)
    return;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    throw_system_error("proctor: doorbell socket", errno);
  auto addr = bell_of(self_.id(), ::getpid());
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.addr), addr.len) != 0) {
    int err = errno;
    ::close(fd);
    throw_system_error("proctor: doorbell bind", err);
  }
  bell_fd_ = fd;
  bell_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, bell_fd_);
  arm_bell();
  if (is_actor_)
    wake_loop_on_sigterm();
}

namespace {

std::atomic<int> sigterm_fd{-1};
std::atomic<int> sigterms{0};
std::atomic<std::atomic<std::uint32_t>*> sigterm_sleep_word{nullptr};

extern "C" void on_sigterm(int) {
  sigterms.fetch_add(1, std::memory_order_relaxed);
  // Wake a futex sleep that began after the loop last looked at the count.
  if (auto* word = sigterm_sleep_word.load(std::memory_order_relaxed)) {
    word->store(awake, std::memory_order_seq_cst);
    futex_wake(*word, 1);
  }
  int fd = sigterm_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd, &one, sizeof one); // async-signal-safe
  }
}

} // namespace

int sigterms_received() noexcept { return sigterms.load(std::memory_order_relaxed); }

void actor_core::catch_sigterm() {
  // Not Asio's signal_set: its bookkeeping is process-global and a forked child inherits the
  // parent's, so in an actor forked by an actor it would believe the handler installed already.
  // The loop looks at the count (poll_io); a futex sleep is woken through the cell's word, a
  // sleep in the loop through an eventfd (wake_loop_on_sigterm()).
  sigterms.store(0, std::memory_order_relaxed);
  sigterm_sleep_word.store(&link_->cell().sleeping);
  struct sigaction sa{};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: a futex sleep returns at once
  ::sigaction(SIGTERM, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

void actor_core::wake_loop_on_sigterm() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0)
    throw_system_error("proctor: eventfd for SIGTERM", errno);
  term_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
  term_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (!ec)
                        quit({exit_kind::shutdown, 0, false, "SIGTERM"});
                    });
  sigterm_fd.store(fd); // one that came before: idle_wait() looks at the count before it sleeps
}

actor_core::~actor_core() {
  for (auto& [id, w] : watches_)
    if (w.pidfd)
      w.pidfd->close();
  watches_.clear();
  pending_.clear();
  timers_.clear();
  if (is_actor_) {
    sigterm_fd.store(-1);
    sigterm_sleep_word.store(nullptr);
    term_.reset();
  }
  bell_.reset(); // closes the socket: the abstract name goes with it
  unpin_own_link(link_);
}

void actor_core::arm_bell() {
  bell_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec)
                        return;
                      char buf[64];
                      while (::recv(bell_fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
                      }
                      arm_bell();
                    });
}

// -- the loop ----------------------------------------------------------------------------------

exit_reason actor_core::run() {
  try {
    poll_gate gate{io_poll_interval};
    auto last_poll = gate.polled();
    unsigned idle_looks = 0; ///< idle_wait() calls in a row that found a message but none came
    while (!quit_) {
      std::size_t handled = 0;
      while (handled < batch && !quit_ && pull_one())
        ++handled;
      if (quit_)
        break;
      // Timers, deaths and signals are looked at between batches, but at most every
      // io_poll_interval while messages keep coming: each look is a system call. An empty
      // look goes straight to idle_wait(), which polls before it sleeps.
      if (handled != 0) {
        idle_looks = 0;
        if (handled == batch || gate.maybe_due()) {
          auto now = clock::now();
          if (handled == batch || now - last_poll >= io_poll_interval) {
            poll_io();
            last_poll = gate.polled();
          }
        }
      } else if (!quit_) {
        if (std::exchange(lock_stalled_, false)) {
          poll_io(); // each look at the mailbox waited out the lock's grace: time goes on
          last_poll = gate.polled();
        } else if (idle_wait(std::nullopt)) {
          last_poll = gate.polled();
        } else if (++idle_looks % 256 == 0) {
          // A mailbox that looks non-empty but yields nothing (a writer died mid-restart of an
          // empty ring, until the next writer repairs it) still lets timers and signals in.
          poll_io();
          last_poll = gate.polled();
        }
      }
    }
  } catch (const exit_request& r) {
    quit_.reset();
    quit(r.code == 0 ? exit_reason{} : exit_reason{exit_kind::exit_code, r.code, false, {}});
  } catch (const std::exception& e) {
    quit_.reset();
    quit({exit_kind::exception, 0, false, e.what()});
  } catch (...) {
    quit_.reset();
    quit({exit_kind::exception, 0, false, "an exception not derived from std::exception"});
  }
  if (unpopped_) // one more try: a record left in the mailbox goes to the next incarnation
    finish_pop(*unpopped_);
  return *quit_;
}

void actor_core::poll_io() {
  if (is_actor_ && sigterms.load(std::memory_order_relaxed) != 0)
    quit({exit_kind::shutdown, 0, false, "SIGTERM"});
  if (io_.stopped())
    io_.restart();
  io_.poll();
}

bool actor_core::idle_wait(deadline until) {
  if (!deferred_.empty())
    return false;
  auto& cell = link_->cell();
  auto& messages = link_->messages();
  // Spin first: a busy partner answers within a microsecond or two, far below a wake-up's cost.
  // Yield now and then: on a loaded machine the partner may be waiting for this very core.
  // Adaptive: a spin that found nothing last time is halved, one that succeeded grows back. The
  // clock is first read at the first yield, so that the usual quick answer costs no look at it.
  const unsigned pauses = sent_ != 0 ? pauses_per_look : sink_pauses_per_look;
  const unsigned looks_per_yield = pauses_per_yield / pauses;
  sent_ = 0;
  std::optional<clock::time_point> spin_end;
  for (unsigned i = 1;; ++i) {
    if (messages.poll_nonempty()) {
      spin_budget_ = std::min<std::chrono::nanoseconds>(spin_budget_ * 2 + std::chrono::microseconds{1},
                                                         spin_time);
      return false;
    }
    if (i % looks_per_yield != 0) {
      for (unsigned k = 0; k < pauses; ++k)
        __builtin_ia32_pause();
      continue;
    }
    auto now = clock::now();
    if (!spin_end)
      spin_end = now + spin_budget_ - looks_between_yields;
    if (now >= *spin_end || (until && now >= *until))
      break;
    ::sched_yield();
  }
  spin_budget_ /= 2;
  if (!supervised_)
    messages.settle(); // a count a writer's repair left to its reader, before the reader sleeps
  poll_io(); // timers, deaths, signals that came due meanwhile
  if (quit_ || !deferred_.empty())
    return true;
  // Nothing but the mailbox to wait for (no timer, watch, request or I/O of the actor's own):
  // sleep on the cell's futex word, the cheapest wake-up. Otherwise in the loop, woken by the
  // doorbell. A signal (SIGTERM) interrupts either.
  bool futex_only = is_actor_ && timers_.empty() && watches_.empty() && pending_.empty() && !io_used_;
  if (!futex_only)
    wait_in_loop();
  auto mode = futex_only ? sleeping_on_futex : sleeping_on_bell;
  cell.sleeping.store(mode, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // A SIGTERM since poll_io() looked woke a sleep that had not begun: the store above undid it.
  if (!messages.empty() || (is_actor_ && sigterms.load(std::memory_order_relaxed) != 0)) {
    cell.sleeping.store(awake, std::memory_order_relaxed);
    return true;
  }
  auto slept_at = clock::now();
  if (futex_only) {
    // Looks again now and then by itself: a sender killed between its put and its wake-up costs
    // at most futex_recheck. An idle actor costs one system call per recheck, nothing else.
    for (;;) {
      auto limit = clock::now() + futex_recheck;
      bool capped = until && *until < limit;
      if (futex_wait(cell.sleeping, mode, capped ? *until : limit, true) || capped)
        break; // woken, a signal, or the caller's deadline
      if (!messages.empty() || sigterms.load(std::memory_order_relaxed) != 0)
        break;
      cell.sleeping.store(mode, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (!messages.empty())
        break;
    }
  } else {
    if (io_.stopped())
      io_.restart();
    // Bounded too: a sender killed between taking the doorbell's "asleep" and ringing it.
    auto limit = clock::now() + futex_recheck;
    io_.run_one_until(until && *until < limit ? *until : limit);
  }
  cell.sleeping.store(awake, std::memory_order_relaxed);
  // Woken by a message soon after falling asleep: a longer spin would have caught it. Without
  // this, two partners that both slept once stay asleep, each waking the other (a stable state:
  // ping-pong fell from ~1.5 us to 50-90 us a round trip on a quiet machine).
  auto slept = clock::now() - slept_at;
  if (slept < spin_time && !messages.empty())
    spin_budget_ = std::min<std::chrono::nanoseconds>(
      std::max<std::chrono::nanoseconds>(spin_budget_ * 2, slept + std::chrono::microseconds{5}),
      spin_time);
  return true;
}

bool actor_core::pull_one() {
  // A handler may wait for a reply (scoped_actor::request inside receive) and so pull again:
  // records in use further up the stack are never overwritten; nested pulls use their own copy.
  struct depth_guard {
    int& depth;
    explicit depth_guard(int& d) : depth(d) { ++depth; }
    ~depth_guard() { --depth; }
  } guard{route_depth_};
  bool nested = route_depth_ > 1;

  if (inbox_pos_ < inbox_.size()) { // a nested pull reads on in the batch: order is kept
    std::uint32_t size = 0;
    std::memcpy(&size, inbox_.data() + inbox_pos_, sizeof size);
    const char* data = inbox_.data() + inbox_pos_ + sizeof size;
    inbox_pos_ += sizeof size + size;
    route(data, size);
    return true;
  }
  auto& messages = link_->messages();
  if ((unpopped_ && !finish_pop(*unpopped_)) || messages.empty()) {
    // The actor's own messages that did not fit its mailbox need no lock.
    if (deferred_.empty())
      return false;
    auto record = std::move(deferred_.front());
    deferred_.pop_front();
    route(record.data(), record.size());
    return true;
  }
  auto& cell = link_->cell();
  std::optional<queue_errc> err;
  if (!supervised_ && !nested) {
    // Several records at once, without the lock (never refilled under a nested pull: the outer
    // one is using a record in this buffer).
    inbox_.clear();
    inbox_pos_ = 0;
    auto n = messages.get_batch(
      [](void* ctx, const std::byte* data, std::size_t size) {
        auto& out = *static_cast<std::vector<char>*>(ctx);
        auto at = out.size();
        auto size32 = static_cast<std::uint32_t>(size);
        out.resize(at + sizeof size32 + size);
        std::memcpy(out.data() + at, &size32, sizeof size32);
        std::memcpy(out.data() + at + sizeof size32, data, size);
      },
      &inbox_, batch, err);
    if (err && *err == queue_errc::corrupt)
      quit({exit_kind::mailbox_corrupt, 0, false, "the mailbox ring failed its checks"});
    if (n == 0)
      return false;
    std::uint32_t size = 0;
    std::memcpy(&size, inbox_.data(), sizeof size);
    inbox_pos_ = sizeof size + size;
    route(inbox_.data() + sizeof size, size);
    return true;
  }
  auto copy_out = [](void* ctx, const std::byte* data, std::size_t size) {
    auto& out = *static_cast<std::vector<char>*>(ctx);
    out.assign(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
  };
  std::vector<char> record;
  std::uint64_t position = 0;
  if (supervised_)
    err = messages.peek(copy_out, &record, grace_only, position);
  else
    err = messages.get(copy_out, &record, grace_only);
  if (err) {
    if (*err == queue_errc::corrupt)
      quit({exit_kind::mailbox_corrupt, 0, false, "the mailbox ring failed its checks"});
    else if (*err == queue_errc::empty)
      lock_stalled_ = true; // not empty a moment ago: the lock was held past its grace
    return false;
  }
  if (!supervised_) {
    route(record.data(), record.size());
    return true;
  }
  // Supervised: the record stays in the mailbox until handled, and the cell names it, so that
  // a crash leaves it for the next incarnation and the supervisor can name it in its report.
  envelope env{};
  if (record.size() >= sizeof env)
    std::memcpy(&env, record.data(), sizeof env);
  cell.in_flight_type.store(env.type_id, std::memory_order_relaxed);
  cell.in_flight_pos.store(position + 1, std::memory_order_release);
  if (cell.watchdog_ms != 0)
    cell.handler_since.store(monotonic_ns(), std::memory_order_release);
  route(record.data(), record.size());
  if (cell.watchdog_ms != 0)
    cell.handler_since.store(0, std::memory_order_release);
  finish_pop(position);
  return true;
}

bool actor_core::finish_pop(std::uint64_t position) {
  // With the lock's grace, not without a deadline: a process stopped while it holds the lock (a
  // debugger's breakpoint inside a send, a SIGSTOP, a hostile process) would stop this actor for
  // good, its timers and its SIGTERM with it. Meanwhile the cell says the record was handled,
  // so that neither this incarnation nor the next handles it again, and that the supervisor
  // does not count a crash against it.
  auto& cell = link_->cell();
  auto done = link_->messages().pop(position, grace_only);
  if (done == ring::pop_result::busy) {
    unpopped_ = position;
    lock_stalled_ = true;
    cell.handled_pos.store(position + 1, std::memory_order_release);
    cell.in_flight_pos.store(0, std::memory_order_release);
    return false;
  }
  if (std::exchange(unpopped_, std::nullopt)) // only then did the cell name it handled
    cell.handled_pos.store(0, std::memory_order_release);
  cell.in_flight_pos.store(0, std::memory_order_release);
  return true;
}

void actor_core::route(const char* data, std::size_t record_size) {
  if (record_size < sizeof(envelope)) {
    report_malformed("a record shorter than its envelope");
    return;
  }
  envelope env;
  std::memcpy(&env, data, sizeof env);
  if (sizeof env + env.sender_len > record_size) {
    report_malformed("a record whose sender overruns it");
    return;
  }
  const char* sender = data + sizeof env;
  auto* payload = reinterpret_cast<const std::byte*>(data + sizeof env + env.sender_len);
  std::size_t size = record_size - sizeof env - env.sender_len;

  // Whose message this is, restored afterwards for a handler further up the stack.
  struct sender_scope {
    actor_core& core;
    const char* name;
    std::size_t len;
    std::uint64_t id;
    bool ready;
    actor_ref ref;
    invocation* current;
    ~sender_scope() {
      core.sender_name_ = name;
      core.sender_len_ = len;
      core.sender_id_ = id;
      core.sender_ready_ = ready;
      core.sender_ = std::move(ref);
      core.current_ = current;
    }
  } restore{*this, sender_name_, sender_len_, sender_id_, sender_ready_,
            route_depth_ > 1 ? sender_ : actor_ref{}, current_};
  sender_name_ = sender;
  sender_len_ = env.sender_len;
  sender_id_ = env.sender_id;
  sender_ready_ = false;

  if (env.flags & flag_response) {
    handle_response(env, payload, size);
  } else if (env.flags & flag_system) {
    handle_system(env, payload, size);
  } else if (receiving_ != nullptr) { // scoped_actor
    if (!received_ && receiving_->find(env.type_id) != nullptr) {
      received_ = true;
      dispatch(*receiving_, env, sender, env.sender_len, payload, size);
    } else {
      stash_.emplace_back(data, data + record_size);
    }
  } else if (!is_actor_) {
    stash_.emplace_back(data, data + record_size); // waiting for a reply: keep it for receive()
  } else {
    dispatch(behavior_, env, sender, env.sender_len, payload, size);
  }
}

const actor_ref& actor_core::sender() {
  if (!sender_ready_) {
    sender_ready_ = true;
    if (sender_id_ == 0 || sender_len_ == 0) {
      sender_ = actor_ref{};
    } else if (auto it = known_.find(sender_id_); it != known_.end()) {
      sender_ = it->second;
    } else {
      sender_ = make_ref(sender_id_, std::string{sender_name_, sender_len_});
      if (known_.size() > 4096)
        known_.clear();
      known_.emplace(sender_id_, sender_);
    }
  }
  return sender_;
}

void actor_core::dispatch(const behavior& bhvr, const envelope& env, const char*, std::size_t,
                          const std::byte* payload, std::size_t size) {
  const auto* h = bhvr.find(env.type_id);
  bool is_request = (env.flags & flag_request) != 0;
  if (h == nullptr) {
    dead_letter(env.type_id);
    if (is_request)
      (void)send(sender(), message_traits<actor_error>::id, flag_response | flag_error,
                 env.request_id,
                 encode(actor_error{actor_errc::unhandled,
                                    "no handler for " + message_type_name(env.type_id), {}}),
                 true);
    return;
  }
  invocation inv;
  inv.msg = {env.type_id, env.request_id, env.flags, payload, size};
  current_ = &inv;
  try {
    h->call(inv);
  } catch (const malformed_message& m) {
    current_ = nullptr;
    report_malformed("a " + message_type_name(env.type_id) + " that does not decode: " + m.why);
    if (is_request)
      (void)send(sender(), message_traits<actor_error>::id, flag_response | flag_error,
                 env.request_id, encode(actor_error{actor_errc::bad_reply, m.why, {}}), true);
    return;
  } catch (...) {
    current_ = nullptr;
    throw;
  }
  current_ = nullptr;
  if (!is_request || inv.promised)
    return;
  if (inv.reply_error)
    (void)send(sender(), message_traits<actor_error>::id, flag_response | flag_error,
               env.request_id, encode(*inv.reply_error), true);
  else if (inv.reply_type != 0)
    (void)send(sender(), inv.reply_type, flag_response, env.request_id,
               std::string_view{inv.reply_bytes.data(), inv.reply_bytes.size()}, true);
}

void actor_core::dead_letter(std::uint64_t type_id) {
  link_->cell().dead_letters.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "proctor: dead letter: %s has no handler for %s (from %s)\n",
               to_string(self_).c_str(), message_type_name(type_id).c_str(),
               to_string(sender()).c_str());
}

void actor_core::report_malformed(const std::string& why) {
  link_->cell().malformed.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "proctor: %s skipped a malformed message: %s\n", to_string(self_).c_str(),
               why.c_str());
}

// -- sending -----------------------------------------------------------------------------------

std::optional<actor_error> actor_core::send(const actor_ref& to, std::uint64_t type_id,
                                            std::uint32_t flags, std::uint64_t request_id,
                                            std::string_view payload, bool never_block) {
  auto target = link_of(to);
  if (!target) {
    // Off the usual path: one more try, which says why (a descriptor may have come free).
    std::string trouble;
    target = link_of(to, &trouble);
    if (!target && !trouble.empty())
      return actor_error{actor_errc::no_resources,
                         "cannot map the receiver's mailbox: " + trouble, {}};
    if (!target)
      return actor_error{actor_errc::noproc, to ? "the actor is gone" : "an empty actor_ref", {}};
  }
  // The first message since the actor last waited is likely an answer that its receiver spins
  // for: ask for the line it commits on while the record is being built (pingpong ~8% faster).
  // Not for a stream's later messages: their receiver reads in batches, and taking the line
  // early only makes it move twice (counting ran ~19% slower so).
  if (sent_++ == 0)
    target->messages().prepare_put();
  auto err = target->put(type_id, flags, request_id, self_.data().get(), payload, never_block);
  if (err && err->code == actor_errc::too_large && (flags & flag_response) != 0
      && (flags & flag_error) == 0) {
    // A reply that can never fit its requester's mailbox: the requester hears so now, not at
    // its timeout. (Its size, " of N bytes", is read back by supervisor list calls.)
    auto why = encode(actor_error{actor_errc::too_large,
                                  "the reply, a " + message_type_name(type_id) + " of "
                                    + std::to_string(payload.size())
                                    + " bytes, does not fit the requester's mailbox",
                                  {}});
    (void)target->put(message_traits<actor_error>::id, flag_response | flag_error, request_id,
                      self_.data().get(), why, never_block);
  }
  return err;
}

void actor_core::self_system(std::uint64_t type_id, const actor_ref& from, std::string_view payload) {
  // Through the own mailbox, behind what is queued already; if it is full, held here and taken
  // once the mailbox has drained.
  std::vector<char> record;
  write_record(record, type_id, flag_system, 0, from.data().get(), payload);
  if (deferred_.empty()
      && !link_->messages().put(record.data(), record.size(), clock::now()))
    return;
  deferred_.push_back(std::move(record));
}

// -- requests ----------------------------------------------------------------------------------

void actor_core::request(const actor_ref& to, duration timeout, std::uint64_t type_id,
                         std::string_view payload, reply_fn on_reply, error_fn on_error) {
  auto id = next_request_++;
  if (auto err = send(to, type_id, flag_request, id, payload)) {
    // Reported from the loop, as every other outcome, never from inside request().
    boost::asio::post(io_, [on_error = std::move(on_error), e = *err] { on_error(e); });
    return;
  }
  // A supervised receiver's crash does not fail the request: it waits in the mailbox for the
  // next incarnation (its supervisor answers with an error if it dead-letters it). Only the
  // timeout bounds it.
  auto target_link = link_of(to);
  bool survives_crash = target_link && restartable(target_link->cell());
  std::optional<exit_reason> dead;
  auto* w = survives_crash ? nullptr : watch_of(to, dead);
  if (w == nullptr && dead) {
    // Ended between the put and now: its reply may be queued already; fail after it.
    self_system(message_traits<sys_request_failed>::id, to,
                encode(sys_request_failed{id, *dead}));
  }
  pending p{std::move(on_reply), std::move(on_error), to.id(),
            std::make_unique<boost::asio::steady_timer>(io_)};
  p.timer->expires_after(timeout);
  p.timer->async_wait([this, id, timeout](const boost::system::error_code& ec) {
    if (ec)
      return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    fail_request(id, {actor_errc::timeout, "no reply within " + std::to_string(ms) + " ms", {}});
  });
  pending_.emplace(id, std::move(p));
}

void actor_core::fail_request(std::uint64_t request_id, const actor_error& err) {
  auto it = pending_.find(request_id);
  if (it == pending_.end())
    return;
  auto p = std::move(it->second);
  pending_.erase(it);
  drop_watch_if_idle(p.target);
  p.on_error(err);
}

void actor_core::handle_response(const envelope& env, const std::byte* payload, std::size_t size) {
  auto it = pending_.find(env.request_id);
  if (it == pending_.end())
    return; // a reply after its timeout: nobody waits for it any more
  auto p = std::move(it->second);
  pending_.erase(it);
  drop_watch_if_idle(p.target);
  if (env.flags & flag_error) {
    actor_error err;
    try {
      err = decode<actor_error>(payload, size);
    } catch (const std::exception& e) {
      err = {actor_errc::bad_reply, std::string{"an error reply that does not decode: "} + e.what(), {}};
    }
    p.on_error(err);
  } else {
    p.on_reply(message_view{env.type_id, env.request_id, env.flags, payload, size});
  }
}

std::optional<actor_error> actor_core::request_wait(const actor_ref& to, duration timeout,
                                                    std::uint64_t type_id, std::string_view payload,
                                                    std::uint64_t& reply_type,
                                                    std::vector<char>& reply) {
  std::optional<actor_error> result;
  bool done = false;
  request(
    to, timeout, type_id, payload,
    [&](const message_view& v) {
      done = true;
      reply_type = v.type_id;
      reply.assign(reinterpret_cast<const char*>(v.payload),
                   reinterpret_cast<const char*>(v.payload) + v.size);
    },
    [&](const actor_error& e) {
      done = true;
      result = e;
    });
  // The request's own timer bounds this loop.
  while (!done) {
    if (!pull_one()) {
      poll_io();
      if (!done)
        idle_wait(std::nullopt);
    }
  }
  return result;
}

bool actor_core::receive(duration timeout, const behavior& bhvr) {
  // A handler may receive again: the outer receive's state comes back afterwards.
  struct restore_outer {
    actor_core& core;
    const behavior* receiving;
    bool received;
    ~restore_outer() {
      core.receiving_ = receiving;
      core.received_ = received;
    }
  } outer{*this, receiving_, received_};
  auto until = clock::now() + timeout;
  // Messages stashed earlier come first, in order.
  for (auto it = stash_.begin(); it != stash_.end(); ++it) {
    envelope env;
    std::memcpy(&env, it->data(), sizeof env);
    if (bhvr.find(env.type_id) == nullptr)
      continue;
    auto record = std::move(*it);
    stash_.erase(it);
    receiving_ = &bhvr;
    received_ = false;
    route(record.data(), record.size());
    return true;
  }
  receiving_ = &bhvr;
  received_ = false;
  while (!received_) {
    if (pull_one())
      continue;
    poll_io();
    if (received_)
      break;
    if (clock::now() >= until)
      return false;
    idle_wait(until);
  }
  return true;
}

// -- timers ------------------------------------------------------------------------------------

timer_id actor_core::run_later(duration delay, std::function<void()> fn, bool repeat) {
  auto id = next_timer_++;
  timer t{std::make_unique<boost::asio::steady_timer>(io_), std::move(fn), delay, repeat};
  t.t->expires_after(delay);
  auto& entry = timers_.emplace(id, std::move(t)).first->second;
  arm_timer(id, entry);
  return id;
}

void actor_core::arm_timer(timer_id id, timer& entry) {
  // The handler finds its timer by id: a cancelled (erased) one is never touched.
  entry.t->async_wait([this, id](const boost::system::error_code& ec) {
    if (ec)
      return;
    auto it = timers_.find(id);
    if (it == timers_.end())
      return;
    if (it->second.repeat) {
      it->second.t->expires_at(it->second.t->expiry() + it->second.period);
      arm_timer(id, it->second);
      auto fn = it->second.fn; // the call may cancel this timer
      fn();
    } else {
      auto fn = std::move(it->second.fn);
      timers_.erase(it);
      fn();
    }
  });
}

void actor_core::cancel_timer(timer_id id) {
  if (auto it = timers_.find(id); it != timers_.end()) {
    it->second.t->cancel();
    timers_.erase(it);
  }
}

// -- monitors, links, exit signals --------------------------------------------------------------

actor_core::watch* actor_core::watch_of(const actor_ref& target, std::optional<exit_reason>& dead,
                                        std::string* trouble) {
  if (auto it = watches_.find(target.id()); it != watches_.end())
    return &it->second;
  std::string why;
  auto target_link = link_of(target, &why);
  if (!target_link) {
    if (!why.empty()) {
      if (trouble != nullptr)
        *trouble = std::move(why);
      return nullptr;
    }
    dead = exit_reason{exit_kind::noproc, 0, false, {}};
    return nullptr;
  }
  auto& cell = target_link->cell();
  auto incarnation = cell.incarnation.load(std::memory_order_acquire);
  if (has_ended(cell)) {
    dead = recorded_reason(cell);
    return nullptr;
  }
  // An actor this process spawned: the pidfd it holds, which no other process can have taken
  // over. Otherwise a new one, this actor's only if the process still is the one the cell names.
  auto pid = cell.pid.load(std::memory_order_acquire);
  auto fd = pidfd_of_spawned(target.id(), pid);
  if (!fd) {
    auto pinned = pin_run(pid, cell.start_time.load(std::memory_order_acquire));
    if (pinned.run == run_check::ended) {
      dead = recorded_reason(cell);
      return nullptr;
    }
    if (pinned.run == run_check::unknown) { // the process may well live
      if (trouble != nullptr)
        *trouble = std::move(pinned.trouble);
      return nullptr;
    }
    fd = std::move(pinned.fd);
  }
  watch w;
  w.target = target;
  w.target_link = std::move(target_link);
  w.incarnation = incarnation;
  w.pidfd = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd.release());
  auto id = target.id();
  w.pidfd->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this, id](const boost::system::error_code& ec) {
                        if (!ec)
                          on_death(id);
                      });
  // A scoped_actor ends with its scope, in a process that lives on: its pidfd tells only of that
  // process's end. Its cell says it ended; the watch looks at it now and then.
  if (cell.scoped != 0)
    w.poll = run_later(
      scoped_watch_period,
      [this, id] {
        auto it = watches_.find(id);
        if (it != watches_.end() && has_ended(it->second.target_link->cell()))
          on_death(id);
      },
      true);
  return &watches_.emplace(id, std::move(w)).first->second;
}

void actor_core::on_death(std::uint64_t target_id) {
  auto it = watches_.find(target_id);
  if (it == watches_.end())
    return;
  release_ended_actors(); // if this process spawned it, its mailbox goes now
  watch w = std::move(it->second);
  watches_.erase(it);
  if (w.poll != 0)
    cancel_timer(w.poll);
  // Mapped since the watch began (watch_of() makes none without it).
  auto target_link = std::move(w.target_link);
  auto& cell = target_link->cell();
  exit_reason why = recorded_reason(cell, w.incarnation);
  if (!restartable(cell) && !has_ended(cell)) {
    // It died without a word (a signal): say so in its cell, so that every sender gets noproc
    // from now on, not only its spawner once it looks.
    record_exit(cell, why);
    // Not held up for long by a process stopped inside a put to it: such a put, completing
    // afterwards, is one more message sent to it just before it died.
    target_link->messages().close(clock::now());
  }
  for (auto m : w.monitors)
    self_system(message_traits<sys_down>::id, w.target, encode(sys_down{m, why}));
  if (w.linked) {
    ended_links_.insert(target_id); // the EXIT below counts only while this stands
    self_system(message_traits<sys_exit>::id, w.target, encode(sys_exit{why, true}));
  }
  if (restartable(cell))
    return; // requests wait for the next incarnation (see request())
  for (auto& [req, p] : pending_)
    if (p.target == target_id)
      self_system(message_traits<sys_request_failed>::id, w.target,
                  encode(sys_request_failed{req, why}));
}

void actor_core::notify_links(const exit_reason& why) {
  // Erlang's exit signals: the ending actor sends them itself (they arrive after everything it
  // sent before). A linked actor that saw the death through its pidfd first ignores the second.
  for (auto& [id, w] : watches_)
    if (w.linked)
      (void)send(w.target, message_traits<sys_exit>::id, flag_system, 0, encode(sys_exit{why, true}),
                 true);
}

void actor_core::drop_watch_if_idle(std::uint64_t target_id) {
  auto it = watches_.find(target_id);
  if (it == watches_.end() || it->second.linked || !it->second.monitors.empty())
    return;
  for (auto& [req, p] : pending_)
    if (p.target == target_id)
      return;
  it->second.pidfd->close();
  if (it->second.poll != 0)
    cancel_timer(it->second.poll);
  watches_.erase(it);
}

std::uint64_t actor_core::monitor(const actor_ref& target) {
  std::optional<exit_reason> dead;
  std::string trouble;
  auto* w = watch_of(target, dead, &trouble);
  if (w == nullptr && !dead) // never a DOWN for an actor that may live
    throw std::runtime_error("monitor: cannot watch " + to_string(target) + ": " + trouble);
  auto mid = next_monitor_++;
  monitor_target_.emplace(mid, target.id());
  if (w == nullptr) // already gone: Erlang's immediate DOWN with noproc
    self_system(message_traits<sys_down>::id, target ? target : self_,
                encode(sys_down{mid, exit_reason{exit_kind::noproc, 0, false, {}}}));
  else
    w->monitors.push_back(mid);
  return mid;
}

void actor_core::demonitor(std::uint64_t monitor_id) {
  auto it = monitor_target_.find(monitor_id);
  if (it == monitor_target_.end())
    return;
  auto target = it->second;
  monitor_target_.erase(it);
  if (auto w = watches_.find(target); w != watches_.end()) {
    std::erase(w->second.monitors, monitor_id);
    drop_watch_if_idle(target);
  }
}

void actor_core::link(const actor_ref& target) {
  if (!target || target == self_)
    return;
  std::optional<exit_reason> dead;
  std::string trouble;
  auto* w = watch_of(target, dead, &trouble);
  if (w == nullptr && !dead) // never an EXIT for an actor that may live
    throw std::runtime_error("link: cannot watch " + to_string(target) + ": " + trouble);
  if (w == nullptr) {
    self_system(message_traits<sys_exit>::id, target,
                encode(sys_exit{exit_reason{exit_kind::noproc, 0, false, {}}, false}));
    return;
  }
  if (w->linked)
    return;
  w->linked = true;
  (void)send(target, message_traits<sys_link>::id, flag_system, 0, encode(sys_link{}), true);
}

void actor_core::unlink(const actor_ref& target) {
  ended_links_.erase(target.id());
  auto it = watches_.find(target.id());
  if (it == watches_.end() || !it->second.linked)
    return;
  it->second.linked = false;
  drop_watch_if_idle(target.id());
  (void)send(target, message_traits<sys_unlink>::id, flag_system, 0, encode(sys_unlink{}), true);
}

void actor_core::send_exit(const actor_ref& target, const exit_reason& why) {
  if (why.kind == exit_kind::killed) {
    // Untrappable: the process is killed; its cell says it was on purpose.
    std::string trouble;
    auto target_link = link_of(target, &trouble);
    if (!target_link && !trouble.empty())
      throw std::runtime_error("exit(kill): cannot reach " + to_string(target) + ": " + trouble);
    if (!target_link)
      return;
    auto& cell = target_link->cell();
    if (has_ended(cell))
      return;
    if (cell.scoped != 0) { // a scoped_actor's process is its host: never SIGKILL it
      (void)send(target, message_traits<sys_exit>::id, flag_system, 0, encode(sys_exit{why, false}),
                 true);
      return;
    }
    auto pinned = pin_run(cell.pid.load(), cell.start_time.load());
    if (pinned.run == run_check::unknown) // never a SIGKILL to a process that may not be the actor
      throw std::runtime_error("exit(kill): cannot reach " + to_string(target) + ": "
                               + pinned.trouble);
    if (pinned.run == run_check::ended)
      return;
    cell.kill_requested.store(1, std::memory_order_release);
    send_signal(pinned.fd.get(), SIGKILL);
    return;
  }
  // To an actor that has ended, an exit signal is nothing; one this process cannot deliver is
  // said so.
  auto err = send(target, message_traits<sys_exit>::id, flag_system, 0,
                  encode(sys_exit{why, false}), true);
  if (err && err->code == actor_errc::no_resources)
    throw std::runtime_error("exit: " + err->message);
}

void actor_core::handle_system(const envelope& env, const std::byte* payload, std::size_t size) {
  if (env.sender_id == 0 || env.sender_len == 0) {
    report_malformed("a system message without a sender");
    return;
  }
  actor_ref from = sender();
  try {
    if (env.type_id == message_traits<sys_link>::id) {
      std::optional<exit_reason> dead;
      std::string trouble;
      if (auto* w = watch_of(from, dead, &trouble)) {
        w->linked = true;
      } else if (!dead) {
        // Not a noproc EXIT for an actor that may live: the link stays one-sided, and says so.
        std::fprintf(stderr, "proctor: %s cannot watch %s, which linked to it: %s\n",
                     to_string(self_).c_str(), to_string(from).c_str(), trouble.c_str());
      } else {
        // It ended after asking for the link: the EXIT it sent while ending (behind this record)
        // carries its reason; this one, noproc, only counts if that never came (SIGKILL).
        ended_links_.insert(from.id());
        self_system(message_traits<sys_exit>::id, from, encode(sys_exit{*dead, true}));
      }
    } else if (env.type_id == message_traits<sys_unlink>::id) {
      if (auto it = watches_.find(from.id()); it != watches_.end()) {
        it->second.linked = false;
        drop_watch_if_idle(from.id());
      }
    } else if (env.type_id == message_traits<sys_exit>::id) {
      auto sig = decode<sys_exit>(payload, size);
      // An EXIT from a link counts only if this incarnation saw that link end and did not unlink
      // since (a record left in a supervised mailbox by the previous incarnation does not).
      if (sig.from_link && ended_links_.erase(from.id()) == 0)
        return;
      if (trap_exit_ || !is_actor_)
        deliver(message_traits<exit_msg>::id, from, encode(exit_msg{from, sig.reason}));
      else if (!sig.reason.is_normal())
        quit(sig.reason);
    } else if (env.type_id == message_traits<sys_down>::id) {
      auto down = decode<sys_down>(payload, size);
      auto it = monitor_target_.find(down.monitor_id);
      if (it == monitor_target_.end())
        return; // demonitored meanwhile
      monitor_target_.erase(it);
      deliver(message_traits<down_msg>::id, from, encode(down_msg{from, down.reason, down.monitor_id}));
    } else if (env.type_id == message_traits<sys_request_failed>::id) {
      auto failed = decode<sys_request_failed>(payload, size);
      fail_request(failed.request_id, {actor_errc::down, "the receiver ended before replying",
                                       failed.reason});
    } else {
      report_malformed("an unknown system message " + message_type_name(env.type_id));
    }
  } catch (const std::exception& e) {
    report_malformed(std::string{"a system message that does not decode: "} + e.what());
  }
}

void actor_core::deliver(std::uint64_t type_id, const actor_ref& from, std::string_view payload) {
  // A framework message (down_msg, exit_msg) takes the path of any other message.
  std::vector<char> record;
  write_record(record, type_id, 0, 0, from.data().get(), payload);
  route(record.data(), record.size());
}

// -- the seam of actor_api.hpp ------------------------------------------------------------------

std::optional<actor_error> core_send(actor_core& self, const actor_ref& to, std::uint64_t type_id,
                                     std::uint32_t flags, std::uint64_t request_id,
                                     std::string_view payload) {
  return self.send(to, type_id, flags, request_id, payload);
}

void core_request(actor_core& self, const actor_ref& to, duration timeout, std::uint64_t type_id,
                  std::string_view payload, reply_fn on_reply, error_fn on_error) {
  self.request(to, timeout, type_id, payload, std::move(on_reply), std::move(on_error));
}

std::optional<actor_error> core_request_wait(actor_core& self, const actor_ref& to, duration timeout,
                                             std::uint64_t type_id, std::string_view payload,
                                             std::uint64_t& reply_type, std::vector<char>& reply) {
  return self.request_wait(to, timeout, type_id, payload, reply_type, reply);
}

bool core_receive(actor_core& self, duration timeout, const behavior& bhvr) {
  return self.receive(timeout, bhvr);
}

const actor_ref& core_ref(actor_core& self) noexcept { return self.self(); }
const actor_ref& core_sender(actor_core& self) noexcept { return self.sender(); }
invocation* core_invocation(actor_core& self) noexcept { return self.current(); }
void core_become(actor_core& self, behavior b) { self.become(std::move(b)); }
void core_quit(actor_core& self, exit_reason why) { self.quit(std::move(why)); }
std::uint64_t core_monitor(actor_core& self, const actor_ref& target) { return self.monitor(target); }
void core_demonitor(actor_core& self, std::uint64_t monitor_id) { self.demonitor(monitor_id); }
void core_link(actor_core& self, const actor_ref& target) { self.link(target); }
void core_unlink(actor_core& self, const actor_ref& target) { self.unlink(target); }
void core_trap_exit(actor_core& self, bool on) { self.trap_exit(on); }
void core_send_exit(actor_core& self, const actor_ref& target, const exit_reason& why) {
  self.send_exit(target, why);
}
boost::asio::io_context& core_io(actor_core& self) { return self.user_io(); }
timer_id core_run_later(actor_core& self, duration delay, std::function<void()> fn) {
  return self.run_later(delay, std::move(fn), false);
}
timer_id core_run_every(actor_core& self, duration period, std::function<void()> fn) {
  return self.run_later(period, std::move(fn), true);
}
void core_cancel_timer(actor_core& self, timer_id id) { self.cancel_timer(id); }

actor_error encode_failure(std::string_view what_type) {
  std::string why;
  try {
    throw;
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown error";
  }
  return {actor_errc::serialization, "cannot encode a " + std::string{what_type} + ": " + why, {}};
}

} // namespace proctor::detail
