#pragma once

#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actor_cell.hpp"
#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/detail/ring.hpp"
#include "proctor/detail/shared_object.hpp"

namespace proctor {
struct spawn_options;
}

namespace proctor::detail {

/// What a ref holds: the actor's id and its cell's segment name, and the mapping once this process
/// has sent to it.
struct ref_data {
  std::uint64_t id = 0;
  std::string cell_name;
  /// Counted as one of the link's holders (see mailbox_link::let_go()).
  std::atomic<class mailbox_link*> link{nullptr};
  ref_data() = default;
  ref_data(const ref_data&) = delete;
  ref_data& operator=(const ref_data&) = delete;
  ~ref_data();
};

/// At the start of every mailbox record; the sender's cell name and the payload follow.
struct envelope {
  std::uint64_t type_id;
  std::uint64_t request_id;
  std::uint64_t sender_id;
  std::uint32_t flags;
  std::uint16_t sender_len;
  std::uint16_t reserved;
};
static_assert(sizeof(envelope) == 32);

/// Writes one mailbox record into `out` (replacing what it held): the envelope, the sender's cell
/// name (empty: anonymous) and the payload — the one place that knows the layout.
void write_record(std::vector<char>& out, std::uint64_t type_id, std::uint32_t flags,
                  std::uint64_t request_id, const ref_data* sender, std::string_view payload);

/// The size of every cell segment.
inline constexpr std::size_t cell_segment_size = (sizeof(actor_cell) + 63) / 64 * 64;

/// Forgets this process's doorbell socket without closing it: for a process that has just closed
/// every descriptor it inherited (the zygote), whose children would otherwise send on a number
/// that names nothing — or something else.
void forget_bell_sender() noexcept;

/// The abstract Unix address of an actor's doorbell: a datagram there wakes its loop.
struct bell_address {
  sockaddr_un addr{};
  socklen_t len = 0;
};
/// Named after the actor and the process that runs it: a process it forked (which inherits the
/// socket) never keeps the name from the actor's next incarnation.
[[nodiscard]] bell_address bell_of(std::uint64_t id, std::int32_t pid) noexcept;

/// A mailbox as a sender sees it: mapped once per process, until its actor has ended.
class mailbox_link {
 public:
  /// `home`: the table of the process that maps it. `kept_in_forks`: the mapping is not kept
  /// out of forked children (MADV_DONTFORK), who therefore have it too.
  mailbox_link(shared_object cell_obj, ring messages, std::uint64_t id, const void* home,
               bool kept_in_forks) noexcept
    : cell_obj_(std::move(cell_obj)), messages_(std::move(messages)), id_(id),
      cell_(static_cast<actor_cell*>(cell_obj_.get("actor mailbox"))), home_(home),
      kept_in_forks_(kept_in_forks) {}

  /// The cell; after release(), a cell that says "ended" (noproc).
  [[nodiscard]] actor_cell& cell() const noexcept { return *cell_.load(std::memory_order_acquire); }
  /// @pre a use is under way (link_use) or the link is pinned.
  [[nodiscard]] ring& messages() noexcept { return messages_; }

  /// Puts one envelope; applies the receiver's overflow policy; rings the doorbell if the actor
  /// sleeps. `sender` may be null (anonymous).
  std::optional<actor_error> put(std::uint64_t type_id, std::uint32_t flags,
                                 std::uint64_t request_id, const ref_data* sender,
                                 std::string_view payload, bool never_block = false);
  /// Wakes the actor if it sleeps.
  void ring_bell() noexcept;

  /// A link of the table `home` to the same mapping (see link_table::inherit()).
  [[nodiscard]] std::unique_ptr<mailbox_link> share(const void* home) const {
    return std::make_unique<mailbox_link>(cell_obj_, messages_, id_, home, kept_in_forks_);
  }
  /// Whether a process forked from this one has the mapping too.
  [[nodiscard]] bool kept_in_forks() const noexcept { return kept_in_forks_; }

  /// The table of the process that mapped it: a forked child has a table of its own, and does
  /// not have its parent's mappings (see link_of()).
  [[nodiscard]] const void* home() const noexcept { return home_; }

  // Lifetime: the mapping goes once the actor has ended and no use of it is under way (link_use);
  // the object once neither the table nor a ref holds it.

  /// Counts a use of the mapping; false (and no use) once it is released.
  ///
  /// In a process that never started a second thread (glibc's flag; an actor's process, as a
  /// rule) nothing can release the mapping between the count and the look at `released_` but
  /// this very thread: the count is then a plain load and store, not a locked instruction, which
  /// waits for the stores of the message sent before (counting sent ~7% more so). A thread
  /// started later sees the count as it was left (pthread_create() orders it).
  [[nodiscard]] bool use() noexcept {
    if (__libc_single_threaded) {
      users_.store(users_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (!released_.load(std::memory_order_relaxed))
        return true;
      users_.store(users_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
      return false;
    }
    users_.fetch_add(1, std::memory_order_seq_cst);
    if (!released_.load(std::memory_order_seq_cst))
      return true;
    users_.fetch_sub(1, std::memory_order_release);
    return false;
  }
  void unuse() noexcept {
    if (__libc_single_threaded)
      users_.store(users_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    else
      users_.fetch_sub(1, std::memory_order_release);
  }
  [[nodiscard]] bool released() const noexcept { return released_.load(std::memory_order_acquire); }
  /// No use from now on: the mapping goes at once if none is under way, else at a later
  /// try_unmap(). @pre !pinned()
  void release() noexcept;
  /// Unmaps a released mailbox that nobody uses any more; true if it did (the table then
  /// forgets the link).
  bool try_unmap() noexcept;
  /// Kept mapped while pinned: the caller's own mailbox.
  void pin(bool pinned = true) noexcept { pinned_ = pinned; }
  [[nodiscard]] bool pinned() const noexcept { return pinned_; }
  /// A sweep of the table saw the actor ended (under the table's mutex).
  bool seen_ended = false;
  /// One more holder of the object (a ref that caches it; the table is the first).
  void hold() noexcept { holders_.fetch_add(1, std::memory_order_relaxed); }
  /// One holder fewer; the last one deletes the link.
  static void let_go(mailbox_link* link) noexcept {
    if (link->holders_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete link;
  }

 private:
  shared_object cell_obj_;
  ring messages_;
  std::uint64_t id_;
  std::atomic<actor_cell*> cell_;
  std::atomic<bool> released_{false};
  const void* home_;
  std::atomic<std::uint32_t> users_{0};
  std::atomic<std::uint32_t> holders_{1};
  bool pinned_ = false;   ///< Under the table's mutex.
  bool kept_in_forks_;
};

/// One use of a link's mapping (see mailbox_link::use()): the mailbox stays mapped while it
/// lives. Empty when the actor is gone (noproc).
class link_use {
 public:
  link_use() noexcept = default;
  /// @pre `link` is null, or link->use() returned true (this use ends it).
  explicit link_use(mailbox_link* link) noexcept : link_(link) {}
  link_use(link_use&& other) noexcept : link_(std::exchange(other.link_, nullptr)) {}
  link_use& operator=(link_use&& other) noexcept {
    if (this != &other) {
      reset();
      link_ = std::exchange(other.link_, nullptr);
    }
    return *this;
  }
  link_use(const link_use&) = delete;
  link_use& operator=(const link_use&) = delete;
  ~link_use() { reset(); }
  void reset() noexcept {
    if (link_ != nullptr)
      std::exchange(link_, nullptr)->unuse();
  }
  [[nodiscard]] mailbox_link* operator->() const noexcept { return link_; }
  [[nodiscard]] mailbox_link& operator*() const noexcept { return *link_; }
  [[nodiscard]] explicit operator bool() const noexcept { return link_ != nullptr; }

 private:
  mailbox_link* link_ = nullptr;
};

/// The mailbox behind `ref`, mapped on first use, for one use; empty if it no longer exists (its
/// spawner released it, or the actor ended a while ago) or is not a mailbox.
///
/// A process unmaps the mailbox of an ended actor soon after it saw it ended, once no use of it
/// is under way: a host that spawns short-lived actors in a loop would otherwise pile up
/// mappings, which every fork copies and whose number the kernel limits. Nor does a forked child
/// inherit these mappings (MADV_DONTFORK): it starts with an empty table and maps again what it
/// uses.
///
/// `trouble`, if given, gets why when the mailbox may well exist but this process cannot map it
/// (out of file descriptors, memory mappings or memory): that is not noproc, and a caller that
/// would report the actor gone (a send, a monitor) must not.
link_use link_of(const actor_ref& ref, std::string* trouble = nullptr) noexcept;
/// The caller's own mailbox, mapped until unpin_own_link() and kept in forked children (its
/// actor_core holds it by pointer); nullptr if it cannot be mapped. `own_cell` and `own_ring`: its
/// cell and its ring, if the caller has mapped them already (a ring is used only with its cell,
/// and only if it is the one the cell names).
mailbox_link* own_link(const actor_ref& ref, shared_object own_cell = {},
                       ring own_ring = {}) noexcept;
/// Ends own_link(): the mailbox is unmapped like any other once its actor has ended.
void unpin_own_link(mailbox_link* link) noexcept;

/// A ref to the mailbox named `cell_name`.
actor_ref make_ref(std::uint64_t id, std::string cell_name);

/// A mailbox made by its owner (the spawner): the cell and ring segments, unlinked when the last
/// copy in the owning process goes.
struct mailbox_owner {
  shared_object cell_obj;
  ring messages;
  actor_ref ref;

  [[nodiscard]] actor_cell& cell() const noexcept {
    return *static_cast<actor_cell*>(cell_obj.get("actor mailbox"));
  }
  /// Removes both names now, for an owner whose mapping another copy may hold a while longer
  /// (a link: adopt_link()). Nothing for a moved-from box.
  void unlink_names() const noexcept {
    cell_obj.unlink();
    messages.unlink();
  }
};

/// Creates a mailbox for a new actor. Throws shm_error if shared memory is short.
mailbox_owner create_mailbox(const spawn_options& opts);

/// Makes `box`, which this process created, its link to that mailbox, sharing the mapping: the
/// spawner usually talks to the actor at once (a monitor, a first message), and so need not map
/// it a second time by name. Does nothing if the process has a link to it already, or on error
/// (a later use maps it by name, as for any other actor). `kept_in_forks`: the box's segments
/// are not kept out of forked children.
void adopt_link(const mailbox_owner& box, bool kept_in_forks) noexcept;

/// 64 random bits, never 0.
std::uint64_t random_id();

/// The exit reason recorded in `cell`, or the one to infer for an actor whose process is gone.
/// `incarnation`: the one that ended, if known (a supervisor may have restarted it since).
exit_reason recorded_reason(const actor_cell& cell, std::optional<std::uint32_t> incarnation = {});

/// True for a supervised actor whose supervisor still runs it: a crash is followed by a restart on
/// the same mailbox, so messages (and requests) sent to it wait for the next incarnation.
[[nodiscard]] bool restartable(const actor_cell& cell) noexcept;

/// True if the cell's state says the actor has ended (for good, or until its supervisor
/// restarts it).
[[nodiscard]] bool has_ended(const actor_cell& cell) noexcept;

} // namespace proctor::detail
