#include "forkserver.hpp"
#include "mailbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "launchers.hpp"
#include "runtime.hpp"

namespace proctor::detail {

namespace {

/// The most descriptors one message carries: a status socket, then the sender's stdout and
/// stderr, then (for a spawn) its working directory.
constexpr std::size_t max_passed_fds = 4;

/// Sends as much of `msg` as one sendmsg takes, with `fds` attached in order: the count sent, or
/// -1 (errno set: the peer is gone, or `flags` has MSG_DONTWAIT and the socket is full).
ssize_t send_some_with_fds(int sock, const void* msg, size_t len, std::span<const int> fds,
                           int flags = 0) noexcept {
  iovec iov{const_cast<void*>(msg), len};
  msghdr hdr{};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
  if (!fds.empty() && fds.size() <= max_passed_fds) {
    hdr.msg_control = control;
    hdr.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&hdr);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do
    n = ::sendmsg(sock, &hdr, MSG_NOSIGNAL | flags);
  while (n < 0 && errno == EINTR);
  return n;
}

/// As send_some_with_fds(), with one descriptor attached (fd < 0: none).
ssize_t send_some_with_fd(int sock, const void* msg, size_t len, int fd, int flags = 0) noexcept {
  return send_some_with_fds(sock, msg, len, fd >= 0 ? std::span<const int>{&fd, 1}
                                                    : std::span<const int>{},
                            flags);
}

/// Sends all of `msg` (a datagram, or a small message) with `fd` attached (fd < 0: none). False
/// (errno set) if it could not.
bool send_with_fd(int sock, const void* msg, size_t len, int fd, int flags = 0) noexcept {
  return send_some_with_fd(sock, msg, len, fd, flags) == static_cast<ssize_t>(len);
}

/// Receives up to `len` bytes and the descriptors attached, in order, into `fds` (the rest of
/// which stay empty); any beyond its size are closed. Returns the byte count, 0 on EOF, -1 on
/// error (errno set).
ssize_t recv_with_fds(int sock, void* buf, size_t len, std::span<unique_fd> fds,
                      int flags = 0) noexcept {
  for (auto& fd : fds)
    fd.reset();
  iovec iov{buf, len};
  msghdr hdr{};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
  hdr.msg_control = control;
  hdr.msg_controllen = sizeof(control);
  ssize_t n;
  do
    n = ::recvmsg(sock, &hdr, MSG_CMSG_CLOEXEC | flags);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return n;
  std::size_t taken = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr; c = CMSG_NXTHDR(&hdr, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      unique_fd held{got};
      if (taken < fds.size())
        fds[taken++] = std::move(held);
    }
  }
  if (hdr.msg_flags & MSG_CTRUNC) { // descriptors were dropped (the receiver is out of fds)
    for (auto& fd : fds)
      fd.reset();
    errno = EMFILE;
    return -1;
  }
  return n;
}

/// As recv_with_fds(), keeping at most one descriptor (into `fd`, else -1).
ssize_t recv_with_fd(int sock, void* buf, size_t len, int& fd, int flags = 0) noexcept {
  unique_fd got;
  ssize_t n = recv_with_fds(sock, buf, len, {&got, 1}, flags);
  fd = got.release();
  return n;
}

/// What a fresh zygote writes on its channel once it serves.
constexpr char serving = 'Z';

/// In place of a request's length, without a status socket: the host takes no more children from
/// this zygote (forkserver_client::retire()).
constexpr std::uint32_t retire_mark = 0xffffffffu;
static_assert(retire_mark > max_request_size);

/// What the zygote tells its reaper (see zygote::start_reaper()).
struct reaper_note {
  enum kind_t : int32_t { adopt, exited } kind; ///< adopt: with the child's status socket
  int32_t pid;
  int32_t status;                               ///< exited: wait status
};

/// The zygote's reaper: holds the status sockets of the zygote's children and writes each its
/// child's wait status, as the zygote learns them. Ends when the zygote closes the channel.
[[noreturn]] void run_reaper(int chan) {
  std::map<pid_t, unique_fd> held;
  for (;;) {
    reaper_note note{};
    int fd = -1;
    ssize_t n = recv_with_fd(chan, &note, sizeof note, fd);
    if (n == 0 || (n < 0 && errno != EMFILE))
      ::_exit(0); // the zygote is gone: its children go too; what is held closes (EOF)
    unique_fd status{fd};
    if (n != sizeof note)
      continue;
    if (note.kind == reaper_note::adopt && status) {
      held[note.pid] = std::move(status);
    } else if (note.kind == reaper_note::exited) {
      if (auto pos = held.find(note.pid); pos != held.end()) {
        zygote_reply reply{zygote_reply::exited, note.pid, note.status};
        send_with_fd(pos->second.get(), &reply, sizeof(reply), -1);
        held.erase(pos);
      }
    }
  }
}

/// The zygote: forks children on request, reports their end. Single-threaded, never returns.
class zygote {
 public:
  /// `comm`: the name children take (nullptr: this process's own, as it was forked). A fresh
  /// zygote (`comm` given) tells its host it serves (one byte on the channel) once set up.
  /// `watch_host`: started by one of several threads of its host, which may end long before the
  /// host does, so it ends when the host does (its pidfd), not with that thread (the parent-death
  /// signal).
  zygote(int chan, pid_t host, const char* comm = nullptr, bool watch_host = false)
    : chan_(chan), host_(host), watch_host_(watch_host) {
    if (comm != nullptr) {
      std::strncpy(host_comm_, comm, sizeof host_comm_ - 1);
      announce_ = true;
    }
  }

  /// Serves until the host is gone. Never returns, not even by an exception (out of memory for a
  /// request, say): the zygote is a copy of the host, and unwinding would run the host's code.
  /// It ends instead, as if the host had gone; the host's next start makes a new one.
  [[noreturn]] void run() noexcept {
    try {
      serve();
    } catch (...) {
    }
    try {
      finish();
    } catch (...) {
    }
    ::_exit(2);
  }

 private:
  [[noreturn]] void serve() {
    setup();
    if (announce_ && !write_all(chan_, {&serving, 1}))
      ::_exit(0); // the host is gone
    for (;;) {
      if (retired_ && children_.empty())
        finish();
      // The reaper's channel only while notes wait for room in it.
      // Retired, the channel only tells when the host closes it for good (it can send nothing).
      pollfd fds[4] = {{chan_, static_cast<short>(retired_ ? 0 : POLLIN), 0},
                       {sigfd_, POLLIN, 0}, {host_pidfd_.get(), POLLIN, 0},
                       {reaper_.get(), POLLOUT, 0}};
      nfds_t n = reaper_ && !backlog_.empty() ? 4 : 3;
      if (::poll(fds, n, -1) < 0) {
        if (errno == EINTR)
          continue;
        ::_exit(2);
      }
      if (fds[2].revents != 0)
        finish(); // the host is gone: as its parent-death signal would have it
      if (n == 4 && fds[3].revents != 0)
        flush_backlog();
      if (fds[1].revents & POLLIN)
        reap();
      if (retired_ && (fds[0].revents & (POLLHUP | POLLERR)))
        finish(); // the host is done with its children (its exit): they go with the zygote
      if (!retired_ && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
        serve_one();
    }
  }

  void setup() {
    ::setpgid(0, 0); // a Ctrl-C meant for the host must not kill the zygote under its feet
    if (!watch_host_)
      die_with_parent(host_);
    reset_signals(); // the host's handlers are no business of the zygote or its children
    stdin_from_devnull(); // the zygote never reads it; its children inherit /dev/null
    if (host_comm_[0] == '\0')
      ::prctl(PR_GET_NAME, host_comm_);
    ::prctl(PR_SET_NAME, "proctor-zygote");
    // Keep only stdio and the channel: the zygote must not pin the host's other descriptors.
    if (chan_ > 3)
      ::close_range(3, static_cast<unsigned>(chan_) - 1, 0);
    ::close_range(static_cast<unsigned>(chan_) + 1, ~0u, 0);
    // The host's end is watched even with the parent-death signal, which the kernel does not
    // send when the dying host may not signal the zygote: once the host dropped root, say.
    host_pidfd_ = open_pidfd(host_);
    if (watch_host_ && (!host_pidfd_ || ::getppid() != host_))
      ::_exit(0); // gone already
    forget_bell_sender(); // it was among them (a zygote forked late, by a fork pool)
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    sigfd_ = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd_ < 0)
      ::_exit(2);
    // Two descriptors per live child: let the zygote use all the host may. Its children get
    // the host's limit back (host_limits(), or spawn_self() for a spawned one).
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
      host_files_ = files;
      files.rlim_cur = files.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
    start_reaper();
  }

  // -- the reaper: a process that holds the children's status sockets ---------------------------
  //
  // Every fork copies the forking process's descriptor table, and the child then closes what it
  // inherited: with one status socket per live child held here, a fork would cost more with every
  // child (~60 µs more per thousand). Beyond the first 32 (see hold_status()), the zygote hands
  // each status socket to the reaper, a child of its own that never forks, and tells it the wait
  // status when it reaps the child. Without a
  // reaper (it could not start, or was killed) the zygote holds the sockets itself; a killed one
  // is replaced at a later start, at most once a second (what it held is lost: those children's
  // parents see their end through their pidfds, with an unknown status).

  void start_reaper() {
    reaper_started_ = clock::now(); // an attempt that fails waits its second too
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
      return;
    unique_fd mine{pair[0]}, theirs{pair[1]};
    // Never blocks the zygote: a reaper that is stopped, or slow, must not stop its starts.
    if (::fcntl(mine.get(), F_SETFL, O_NONBLOCK) != 0)
      return;
    pid_t self = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_NAME, "proctor-reaper");
      become_forked_child(self, theirs.get());
      run_reaper(theirs.get());
    }
    if (pid < 0)
      return;
    reaper_pid_ = pid;
    reaper_ = std::move(mine);
  }

  /// True if a failed send to the reaper means that it is gone (not merely busy or full).
  static bool reaper_lost(int err) {
    return err == EPIPE || err == ECONNRESET || err == ECONNREFUSED || err == ENOTCONN;
  }

  /// Gives `status` (the socket on which `pid`'s end is reported) to the reaper if it can take it
  /// now; otherwise keeps it. An adoption is never queued: the zygote keeps what it cannot hand.
  void hold_status(pid_t pid, unique_fd status) {
    // A few sockets cost a fork nothing to speak of, and an end reported from here takes one
    // hop fewer: the reaper takes them only beyond those.
    if (held_here_ < keep_here) {
      ++held_here_;
      children_.emplace(pid, std::move(status));
      return;
    }
    if (reaper_ && backlog_.empty()) {
      reaper_note note{reaper_note::adopt, pid, 0};
      if (send_with_fd(reaper_.get(), &note, sizeof note, status.get(), MSG_DONTWAIT)) {
        children_.emplace(pid, unique_fd{}); // reported through the reaper
        return;
      }
      if (reaper_lost(errno))
        reaper_.reset();
    }
    ++held_here_;
    children_.emplace(pid, std::move(status));
  }

  /// Reports `pid`'s wait status to whoever waits for it.
  void report_exit(pid_t pid, int wstatus, const unique_fd& status) {
    if (status) {
      zygote_reply reply{zygote_reply::exited, pid, wstatus};
      send_with_fd(status.get(), &reply, sizeof(reply), -1);
      return;
    }
    // Held by the reaper; in order, after any notes that wait for room. If it is gone, so is
    // the socket: the parent reads end of file, then the child's end from its pidfd.
    backlog_.push_back({reaper_note::exited, pid, wstatus});
    flush_backlog();
  }

  /// Sends what the reaper has room for, in order.
  void flush_backlog() {
    while (reaper_ && !backlog_.empty()) {
      if (!send_with_fd(reaper_.get(), &backlog_.front(), sizeof(reaper_note), -1, MSG_DONTWAIT)) {
        if (reaper_lost(errno))
          reaper_.reset();
        break; // full: the loop polls for room
      }
      backlog_.pop_front();
    }
    if (!reaper_)
      backlog_.clear();
  }

  void serve_one() {
    uint32_t size = 0;
    std::array<unique_fd, max_passed_fds> passed;
    ssize_t n = recv_with_fds(chan_, &size, sizeof(size), passed);
    if (n == sizeof(size) && size == retire_mark && !passed[0]) {
      retire();
      return;
    }
    // EOF: the host closed the channel, or is gone. No status socket: nobody could learn of a
    // child started now, and the stream may be out of step — end, and the host sees EOF.
    if (n <= 0 || !passed[0])
      finish();
    unique_fd status = std::move(passed[0]);
    if (n != sizeof(size)
        && !read_exact(chan_, reinterpret_cast<char*>(&size) + n, sizeof(size) - n))
      finish();
    if (size > max_request_size)
      finish();
    std::string body(size, '\0');
    if (!read_exact(chan_, body.data(), size))
      finish();
    launch_request req;
    try {
      req = decode_request(body);
    } catch (const std::exception&) {
      zygote_reply reply{zygote_reply::failed, 0, EPROTO};
      send_with_fd(status.get(), &reply, sizeof(reply), -1);
      return;
    }
    // After the status socket: the host's stdout and stderr (unless it had one closed), then,
    // with a spawn request that says so, its working directory.
    std::size_t extra = 1;
    while (extra < passed.size() && passed[extra])
      ++extra;
    unique_fd cwd;
    if (req.spawn && req.passes_cwd && extra > 1)
      cwd = std::move(passed[--extra]);
    host_output output;
    if (extra == 3)
      output = host_output{std::move(passed[1]), std::move(passed[2])};
    launch(req, body, std::move(status), output, cwd.get());
  }

  void launch(const launch_request& req, std::string_view body, unique_fd status,
              const host_output& output, int cwd) {
    launched child;
    try {
      child = req.spawn ? launch_spawn(req, host_setting{&output, cwd,
                                                         host_files_ ? &*host_files_ : nullptr})
                        : fork_child(req, body, output);
    } catch (const process_error&) {
      zygote_reply reply{zygote_reply::failed, 0, errno != 0 ? errno : EAGAIN};
      send_with_fd(status.get(), &reply, sizeof(reply), -1);
      return;
    }
    zygote_reply reply{zygote_reply::started, child.pid, 0};
    send_with_fd(status.get(), &reply, sizeof(reply), child.pidfd.get());
    hold_status(child.pid, std::move(status));
    if (!req.spawn)
      make_spare(); // for the next request, while this child starts
    if (reaper_pid_ == 0 && clock::now() - reaper_started_ >= reaper_patience)
      start_reaper(); // the last one was killed: the next children's sockets go to a new one
  }

  /// A child forked from the zygote: no descriptor but stdio (the channel, the signalfd and every
  /// other child's status socket go), default signals, its own process group, dead with the
  /// zygote. `keep`: one descriptor to keep (a spare's feed), or -1.
  void become_forked_child(pid_t zygote_pid, int keep) {
    if (keep > 3)
      ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
    ::close_range(keep >= 3 ? static_cast<unsigned>(keep) + 1 : 3, ~0u, 0);
    unblock_all_signals(); // handlers were reset in setup(); only SIGCHLD is blocked here
    ::setpgid(0, 0);
    die_with_parent(zygote_pid);
  }

  /// Puts back the host's limit on open files that setup() raised for the zygote (it differs
  /// only then); a child runs with the host's limits.
  void host_limits() const noexcept {
    if (host_files_)
      ::setrlimit(RLIMIT_NOFILE, &*host_files_);
  }

  [[noreturn]] void run_forked(const launch_request& req) {
    host_limits();
    ::prctl(PR_SET_NAME, host_comm_); // as ps shows a forked child: the program's name
    try {
      runtime::get().become_child(req);
    } catch (...) {
      ::_exit(1);
    }
    run_child_entry(req);
  }

  launched fork_child(const launch_request& req, std::string_view body,
                      const host_output& output) {
    if (auto out = hand_to_spare(body, output))
      return std::move(*out);
    pid_t self = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      output.install();
      become_forked_child(self, -1);
      run_forked(req);
    }
    if (pid < 0)
      throw_system_error("fork", errno);
    ::setpgid(pid, pid);
    launched out;
    out.pid = pid;
    out.pidfd = hold_child(pid); // SIGCHLD is not ignored here: a pidfd or an exception
    return out;
  }

  // -- the spare: a child forked ahead of the next request --------------------------------------
  //
  // A fork costs this zygote a few hundred microseconds (its page tables, its descriptors). Made
  // after a child has started, the spare is ready when the next request comes: that child starts
  // without waiting for a fork. It waits on its feed for the request, which it runs as any child.

  void make_spare() {
    if (spare_pid_ != 0)
      return;
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return; // no spare: the next child is forked on request
    unique_fd feed{pair[0]}, theirs{pair[1]};
    pid_t self = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0)
      run_spare(self, theirs.release());
    if (pid < 0)
      return;
    ::setpgid(pid, pid);
    spare_pid_ = pid;
    spare_feed_ = std::move(feed);
  }

  [[noreturn]] void run_spare(pid_t zygote_pid, int feed) {
    ::prctl(PR_SET_NAME, "proctor-spare"); // first: the name tells it apart from a child
    become_forked_child(zygote_pid, feed);
    launch_request req;
    {
      // The host's stdout and stderr come with the request's first bytes.
      std::array<unique_fd, 2> passed;
      std::uint32_t size = 0;
      ssize_t n = recv_with_fds(feed, &size, sizeof size, passed);
      std::string body;
      // The zygote is gone, or let the spare go: either way, nothing to run.
      if (n <= 0
          || (n != sizeof size
              && !read_exact(feed, reinterpret_cast<char*>(&size) + n, sizeof size - n))
          || size > max_request_size)
        ::_exit(0);
      body.resize(size);
      if (!read_exact(feed, body.data(), size))
        ::_exit(0);
      try {
        req = decode_request(body); // as the zygote checked it before handing it over
      } catch (...) {
        ::_exit(0);
      }
      host_output{std::move(passed[0]), std::move(passed[1])}.install();
    }
    ::close(feed);
    run_forked(req);
  }

  /// The spare, given `body` to run; nullopt if there is none, it is gone, or the body is large
  /// (a blocking send of megabytes would hold up the zygote: such a child is forked with it).
  std::optional<launched> hand_to_spare(std::string_view body, const host_output& output) {
    constexpr std::size_t spare_body_limit = 64 * 1024;
    if (spare_pid_ == 0 || body.size() > spare_body_limit)
      return std::nullopt;
    pid_t pid = std::exchange(spare_pid_, 0);
    unique_fd feed = std::move(spare_feed_);
    // The pidfd first: once the spare has the request it runs it, and must not be killed and
    // replaced for want of a descriptor (it is an unreaped child: the pid is still its own).
    unique_fd pidfd = open_pidfd(pid);
    auto size = static_cast<std::uint32_t>(body.size());
    std::string frame(reinterpret_cast<const char*>(&size), sizeof size);
    frame.append(body); // one write: the spare wakes once
    std::array<int, 2> stdio{output.out.get(), output.err.get()};
    std::span<const int> attached{stdio.data(), output.out && output.err ? stdio.size() : 0};
    ssize_t sent = pidfd ? send_some_with_fds(feed.get(), frame.data(), frame.size(), attached)
                         : -1;
    if (sent <= 0
        || !write_all(feed.get(), std::string_view{frame}.substr(static_cast<std::size_t>(sent)))) {
      discard_child(pid); // killed while it waited (or no descriptor): fork as usual
      return std::nullopt;
    }
    launched out;
    out.pid = pid;
    out.pidfd = std::move(pidfd);
    return out;
  }

  void reap() {
    signalfd_siginfo info;
    while (::read(sigfd_, &info, sizeof(info)) == sizeof(info)) {
    }
    int wstatus = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &wstatus, WNOHANG)) > 0) {
      if (pid == spare_pid_) { // the spare died waiting (killed): the next child is forked
        spare_pid_ = 0;
        spare_feed_.reset();
        continue;
      }
      if (pid == reaper_pid_) { // killed: the sockets it held are closed (end of file)
        reaper_pid_ = 0;
        reaper_.reset();
        backlog_.clear();
        continue;
      }
      auto pos = children_.find(pid);
      if (pos == children_.end())
        continue;
      report_exit(pid, wstatus, pos->second);
      if (pos->second)
        --held_here_;
      children_.erase(pos);
    }
  }

  /// No more requests (see forkserver_client::retire()): the spare goes; the children that run
  /// are reaped and reported as ever, and the zygote ends after the last, or as soon as the host
  /// closes the channel (it shut it for writing first).
  void retire() {
    if (spare_pid_ != 0) {
      discard_child(spare_pid_);
      spare_pid_ = 0;
      spare_feed_.reset();
    }
    retired_ = true;
  }

  [[noreturn]] void finish() {
    // Orphaned children die through their parent-death signal when the zygote exits. The spare
    // is reaped here: nobody would wait for it, and an orphan stays a zombie until init reaps it.
    if (spare_pid_ != 0)
      discard_child(spare_pid_);
    if (reaper_pid_ != 0) {
      // It ends at end of file, after what it was told: given a moment for the notes that wait
      // for room (one that is stopped or stuck is not waited for).
      for (int i = 0; i < 100 && reaper_ && !backlog_.empty(); ++i) {
        flush_backlog();
        pollfd room{reaper_.get(), POLLOUT, 0};
        if (!backlog_.empty())
          ::poll(&room, 1, 10);
      }
      reaper_.reset();
      // Waited for through its pidfd, at most a second: a look every 10 ms cost every zygote's
      // exit 10 ms, and every supervisor's stop with it.
      if (auto fd = open_pidfd(reaper_pid_); fd) {
        pollfd ended{fd.get(), POLLIN, 0};
        (void)::poll(&ended, 1, 1000);
      }
      if (::waitpid(reaper_pid_, nullptr, WNOHANG) != reaper_pid_)
        discard_child(reaper_pid_);
    }
    ::_exit(0);
  }

  int chan_;
  pid_t host_;
  bool watch_host_ = false;
  unique_fd host_pidfd_; ///< Readable once the host has ended (empty: poll() passes over it).
  bool announce_ = false;
  int sigfd_ = -1;
  char host_comm_[17] = {};
  std::map<pid_t, unique_fd> children_; ///< Each child's status socket, or none: the reaper's.
  bool retired_ = false;                ///< Takes no requests; ends after its last child, or
                                        ///< once the host closes the channel.
  std::optional<rlimit> host_files_;    ///< RLIMIT_NOFILE as the host had it, if raised here.
  static constexpr std::size_t keep_here = 32;
  std::size_t held_here_ = 0;           ///< Status sockets in children_.
  pid_t spare_pid_ = 0;
  unique_fd spare_feed_;
  using clock = std::chrono::steady_clock;
  static constexpr auto reaper_patience = std::chrono::seconds{1};
  pid_t reaper_pid_ = 0;
  unique_fd reaper_;
  clock::time_point reaper_started_{};
  std::deque<reaper_note> backlog_; ///< Notes for the reaper that wait for room in its channel.
};

/// Starts a fresh zygote on `zygote_end` (closed here once passed on) and waits until it serves. 0 if it does not (the
/// program does not call proctor::init(argc, argv) first in main(), say): it is gone, and
/// start() forks one instead.
pid_t start_fresh(const unique_fd& host_end, unique_fd& zygote_end, bool watch_host) {
  // Well within a child's start timeout (10 s unless set): a supervisor that starts a zygote
  // in its init must still be able to fall back before its own start is given up.
  constexpr auto patience = std::chrono::seconds{3};
  char comm[17] = {};
  ::prctl(PR_GET_NAME, comm);
  pid_t pid;
  try {
    if (watch_host)
      pid = spawn_self(zygote_flag, zygote_end.get(),
                       {std::to_string(::getpid()), comm, zygote_watch_flag});
    else
      pid = spawn_self(zygote_flag, zygote_end.get(), {std::to_string(::getpid()), comm});
  } catch (const std::exception& e) {
    std::cerr << "proctor: a new run of the program could not start (" << e.what()
              << "): the forkserver is a fork of this process\n";
    return 0;
  }
  zygote_end.reset(); // so that a run that ends without serving is an end of file here
  char got = 0;
  if (wait_readable(host_end.get(), patience) && ::read(host_end.get(), &got, 1) == 1
      && got == serving)
    return pid;
  discard_child(pid);
  std::cerr << "proctor: a new run of the program did not start serving as a forkserver within "
            << patience.count() << " s (does main() call proctor::init(argc, argv) first?): "
            << "the forkserver is a fork of this process\n";
  return 0;
}

} // namespace

std::unique_ptr<forkserver_client> forkserver_client::start(origin how) {
  // A fresh zygote started by one of several threads watches its host rather than dying with that
  // thread; a fork of a threaded process would inherit its locks held.
  bool threaded = thread_count() != 1;
  if (threaded && how != origin::fresh)
    require_single_thread("the forkserver cannot start now (call proctor::init(argc, argv) first "
                          "in main(), before any thread)");
  ensure_std_fds();
  unique_fd host_end, zygote_end;
  auto new_channel = [&] {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw_system_error("socketpair", errno);
    host_end = unique_fd{fds[0]};
    zygote_end = unique_fd{fds[1]};
  };
  new_channel();
  flush_std_streams();
  pid_t host = ::getpid();
  pid_t pid = how == origin::fresh ? start_fresh(host_end, zygote_end, threaded) : 0;
  if (pid <= 0) {
    if (threaded)
      require_single_thread("the forkserver cannot start now: a new run of the program did not "
                            "serve, and a fork of this process would inherit its threads' locks");
    if (how == origin::fresh)
      new_channel(); // nothing the failed one left in the old one
    pid = ::fork();
    if (pid < 0)
      throw_system_error("fork", errno);
    if (pid == 0) {
      host_end.reset();
      zygote{zygote_end.release(), host}.run();
    }
  }
  zygote_end.reset();
  unique_fd pidfd = open_pidfd(pid);
  return std::unique_ptr<forkserver_client>(
    new forkserver_client(pid, std::move(pidfd), std::move(host_end)));
}

void run_fresh_zygote(int chan, pid_t host, const char* host_comm, bool watch_host) {
  if (host <= 0 || ::getppid() != host) {
    // Started by hand, or by a process that is gone already (quietly): nobody would ask it for
    // a child.
    if (host <= 0 || ::kill(host, 0) == 0 || errno == EPERM)
      std::cerr << "proctor: " << zygote_flag << " is for proctor's own use\n";
    ::_exit(2);
  }
  if (thread_count() != 1) {
    // Threads started before init() (by a static constructor): forks would copy their locks.
    std::cerr << "proctor: a new run of the program runs threads before proctor::init(): it "
                 "cannot serve as a forkserver\n";
    ::_exit(2);
  }
  zygote{chan, host, host_comm, watch_host}.run();
}


forkserver_client::forkserver_client(pid_t pid, unique_fd pidfd, unique_fd chan) noexcept
  : pid_(pid), pidfd_(std::move(pidfd)), chan_(std::move(chan)) {}

forkserver_client::~forkserver_client() {
  if (!chan_)
    return; // no channel: no zygote of ours to stop
  chan_.reset(); // EOF (a retired zygote: the hang-up) tells the zygote to exit
  if (pidfd_) {
    if (!wait_readable(pidfd_.get(), std::chrono::seconds(5))) {
      send_signal(pidfd_.get(), SIGKILL);
      // A zygote started as root by a program that has dropped root is not ours to kill: if
      // it does not end, it is left, rather than this process waiting for it for ever.
      if (!wait_readable(pidfd_.get(), std::chrono::seconds(1)))
        return;
    }
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED);
  }
}

bool forkserver_client::alive() const {
  return pidfd_ && !wait_readable(pidfd_.get(), std::chrono::nanoseconds{0});
}

void forkserver_client::retire() noexcept {
  std::lock_guard guard{mu_};
  if (!chan_ || retired_)
    return;
  (void)send_with_fd(chan_.get(), &retire_mark, sizeof retire_mark, -1);
  // Shut for writing, for good: no request can follow the mark. Open for the hang-up the
  // destructor gives it.
  ::shutdown(chan_.get(), SHUT_WR);
  retired_ = true;
}

bool forkserver_client::retired() const {
  std::lock_guard guard{mu_};
  return retired_;
}

void forkserver_client::close_inherited() const noexcept {
  if (chan_)
    ::close(chan_.get());
  if (pidfd_)
    ::close(pidfd_.get());
}

launched forkserver_client::launch(const launch_request& req, int cwd) {
  std::string frame = encode_request(req);
  // Our stdout and stderr go with the request, for the child (see host_output), unless one is
  // closed: looked at before the socket pair below could take its number.
  bool pass_output = ::fcntl(STDOUT_FILENO, F_GETFD) >= 0 && ::fcntl(STDERR_FILENO, F_GETFD) >= 0;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    throw_system_error("socketpair", errno);
  unique_fd mine{pair[0]}, theirs{pair[1]};
  {
    std::lock_guard guard{mu_};
    if (retired_)
      throw process_error(process_errc::forkserver_lost,
                          "process '" + req.name + "': the forkserver was retired");
    // One sendmsg for as much of it as the socket takes: the zygote wakes once. If the output
    // cannot go with it, the child writes where the zygote does.
    std::array<int, max_passed_fds> fds{theirs.get(), STDOUT_FILENO, STDERR_FILENO, -1};
    std::array<int, max_passed_fds> without_output{theirs.get(), -1, -1, -1};
    std::size_t count = pass_output ? 3 : 1, fallback = 1;
    if (req.passes_cwd && cwd >= 0) {
      fds[count++] = cwd;
      without_output[fallback++] = cwd;
    }
    ssize_t sent = -1;
    if (chan_) {
      sent = send_some_with_fds(chan_.get(), frame.data(), frame.size(), {fds.data(), count});
      if (sent < 0 && pass_output && errno != EPIPE && errno != ECONNRESET && errno != ENOTCONN)
        sent = send_some_with_fds(chan_.get(), frame.data(), frame.size(),
                                  {without_output.data(), fallback});
    }
    if (sent <= 0
        || !write_all(chan_.get(), std::string_view{frame}.substr(static_cast<std::size_t>(sent))))
      throw process_error(process_errc::forkserver_lost,
                          "process '" + req.name + "': the forkserver is gone");
  }
  theirs.reset();
  zygote_reply reply{};
  int pidfd = -1;
  ssize_t n = recv_with_fd(mine.get(), &reply, sizeof(reply), pidfd);
  unique_fd child_pidfd{pidfd};
  if (n != sizeof(reply))
    throw process_error(process_errc::forkserver_lost,
                        "process '" + req.name + "': the forkserver did not answer");
  if (reply.kind == zygote_reply::failed)
    throw_system_error("process '" + req.name + "': the forkserver could not start it",
                       reply.value);
  if (!child_pidfd) // cannot happen unless this process is out of descriptors
    throw_system_error("process '" + req.name + "': receiving its pidfd", EMFILE);
  launched out;
  out.pid = reply.pid;
  out.pidfd = std::move(child_pidfd);
  out.status = std::move(mine);
  return out;
}

std::optional<exit_status> try_read_zygote_status(int status_fd, int child_pidfd,
                                                  bool& zygote_lost) {
  if (!zygote_lost) {
    zygote_reply reply{};
    int fd = -1;
    ssize_t n = recv_with_fd(status_fd, &reply, sizeof(reply), fd, MSG_DONTWAIT);
    if (n == 0) {
      // End of file is believed on a second look only: a read that races the zygote's report
      // and its close right after can find the queue empty, then the end (seen about once in
      // 40,000 starts, the report there for the next read). The report is queued before the
      // close, so once the end has been seen, a read finds it if it was sent.
      n = recv_with_fd(status_fd, &reply, sizeof(reply), fd, MSG_DONTWAIT);
    }
    if (fd >= 0)
      ::close(fd);
    if (n == sizeof(reply) && reply.kind == zygote_reply::exited)
      return from_wait_status(reply.value);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return std::nullopt;
    zygote_lost = true; // EOF without a report: from now on, only the pidfd can tell
  }
  // The child dies by its parent-death signal soon after the zygote; its status is lost.
  if (child_pidfd >= 0 && !wait_readable(child_pidfd, std::chrono::seconds(0)))
    return std::nullopt;
  return exit_status{unknown_exitcode, false};
}

forkserver_client*& zygote_override() noexcept {
  thread_local forkserver_client* zygote = nullptr;
  return zygote;
}

launched launch_through_zygote(const std::function<launched(forkserver_client&)>& launch) {
  for (int attempt = 0;; ++attempt) {
    auto zygote = runtime::get().zygote();
    try {
      return launch(*zygote);
    } catch (const process_error&) {
      // Retired by another thread (this process's confinement changed) between the two: once
      // more, through the one that replaced it.
      if (attempt > 0 || !zygote->retired())
        throw;
    }
  }
}

launched launch_forkserver(const launch_request& req) {
  if (auto* own = zygote_override()) {
    // A fork pool's zygote cannot be replaced (its workers are copies of the process as it was
    // when the pool was made), and must not start them as the process no longer is.
    if (!same_identity(current_confinement(), own->started_as()))
      throw process_error(process_errc::system,
                          "process '" + req.name + "': this process's user, groups or "
                          "capabilities changed since its fork pool was made, whose workers "
                          "would run as they were: make the pool after the change");
    return own->launch(req);
  }
  return launch_through_zygote([&](forkserver_client& z) { return z.launch(req); });
}

} // namespace proctor::detail
