#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
  std::atomic<class mailbox_link*> link{nullptr};
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

/// A mailbox as a sender sees it: mapped once per process and kept for the process's life.
class mailbox_link {
 public:
  mailbox_link(shared_object cell_obj, ring messages, std::uint64_t id) noexcept
    : cell_obj_(std::move(cell_obj)), messages_(std::move(messages)), id_(id),
      cell_(static_cast<actor_cell*>(cell_obj_.get("actor mailbox"))) {}

  /// The cell; after release(), a cell that says "ended" (noproc).
  [[nodiscard]] actor_cell& cell() const noexcept { return *cell_.load(std::memory_order_acquire); }
  /// @pre !released()
  [[nodiscard]] ring& messages() noexcept { return messages_; }

  /// Unmaps an ended actor's mailbox. The object stays (refs cache a pointer to it) and answers
  /// noproc from then on. Called by the link table, long after the actor was seen ended.
  void release() noexcept;
  [[nodiscard]] bool released() const noexcept { return released_.load(std::memory_order_acquire); }

  /// When the table first saw the actor ended (for the grace period before release()).
  std::optional<std::chrono::steady_clock::time_point> ended_since;

  /// Puts one envelope; applies the receiver's overflow policy; rings the doorbell if the actor
  /// sleeps. `sender` may be null (anonymous).
  std::optional<actor_error> put(std::uint64_t type_id, std::uint32_t flags,
                                 std::uint64_t request_id, const ref_data* sender,
                                 std::string_view payload, bool never_block = false);

  /// Wakes the actor if it sleeps.
  void ring_bell() noexcept;

 private:
  shared_object cell_obj_;
  ring messages_;
  std::uint64_t id_;
  std::atomic<actor_cell*> cell_;
  std::atomic<bool> released_{false};
};

/// The mailbox behind `ref`, mapped on first use; nullptr if it no longer exists (the actor's
/// spawner released it) or is not a mailbox.
mailbox_link* link_of(const actor_ref& ref) noexcept;

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
};

/// Creates a mailbox for a new actor. Throws shm_error if shared memory is short.
mailbox_owner create_mailbox(const spawn_options& opts);

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
