#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include <caf/meta/type_name.hpp>

namespace proctor {

/// Names a shared_segment so that another process can map it: what a spawn or forkserver child
/// receives (as an entry argument) and passes to shared_segment::open().
struct segment_handle {
  std::string name;       ///< "/proctor-<pid>.<start time>-<random>", as for shm_open.
  std::uint64_t size = 0; ///< The size the creator asked for.

  friend bool operator==(const segment_handle&, const segment_handle&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, segment_handle& x) {
  return f(caf::meta::type_name("proctor::segment_handle"), x.name, x.size);
}

/// A POSIX shared-memory segment mapped read-write into this process.
///
/// create() makes a new segment with an unguessable name ("/proctor-<run>-<random>": the run names
/// the creating process by pid and start time, the 128-bit random part comes from getrandom),
/// mode 0600, zero-filled. Its memory is allocated up front, after a check of the free space in
/// /dev/shm, so that a later page fault cannot raise SIGBUS.
///
/// The creating process owns the name: the owner's object unlinks it exactly once, on unlink() or
/// in its destructor. Everybody else only maps it and never unlinks:
/// - a forked child inherits the mapping (and a copy of this object, which stays a non-owner:
///   ownership is tied to the creator's pid);
/// - a spawn or forkserver child receives handle() and calls open().
/// If the owner dies without unlinking (SIGKILL), the name stays in /dev/shm until the next
/// sweep_stale_segments(), which proctor::init() runs at every program start.
///
/// Unlinking removes the name only: every process that mapped the segment keeps using it until it
/// unmaps it (destructor). open() after the owner unlinked fails with `not_found`.
///
/// @note Not thread-safe; the memory it maps is shared, and its users synchronize themselves.
class shared_segment {
 public:
  /// An empty object: maps nothing, owns nothing.
  shared_segment() noexcept = default;

  /// Creates and maps a new segment of `size` bytes, owned by the calling process. Throws
  /// shm_error: `misuse` for size 0, `no_space` when /dev/shm has too little free space (the
  /// message says how much is free), `system` if the OS refuses.
  [[nodiscard]] static shared_segment create(std::size_t size);

  /// Maps the segment named by `handle`. Throws shm_error: `invalid` for a name this program did
  /// not make, `not_found` if it no longer exists, `invalid` if it is smaller than handle.size,
  /// `system` if the OS refuses.
  [[nodiscard]] static shared_segment open(const segment_handle& handle);

  shared_segment(shared_segment&& other) noexcept;
  shared_segment& operator=(shared_segment&& other) noexcept;
  shared_segment(const shared_segment&) = delete;
  shared_segment& operator=(const shared_segment&) = delete;

  /// Unmaps; the owner also unlinks, if it has not already.
  ~shared_segment();

  /// Removes the name from /dev/shm now, if this process owns it and has not removed it yet; the
  /// mapping stays valid. A no-op for openers, forked copies and empty objects. Never fails: a
  /// name that somebody else removed is gone all the same.
  void unlink() noexcept;

  /// Keeps the mapping out of processes forked from now on (MADV_DONTFORK): for a process that
  /// forks many children which map what they need by name (a supervisor). Best effort.
  void dont_fork() const noexcept;

  /// The mapped memory (page-aligned, zero-filled at creation), or nullptr when empty.
  [[nodiscard]] void* data() const noexcept { return data_; }

  /// The size asked for at creation.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// The shm_open name; empty when empty.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// What another process passes to open(). Throws `misuse` when empty.
  [[nodiscard]] segment_handle handle() const;

  /// True in the creating process until it has unlinked the name.
  [[nodiscard]] bool owns_name() const noexcept;

  [[nodiscard]] explicit operator bool() const noexcept { return data_ != nullptr; }

 private:
  shared_segment(std::string name, void* data, std::size_t size, int owner_pid) noexcept
    : name_(std::move(name)), data_(data), size_(size), owner_pid_(owner_pid) {}

  void reset() noexcept;

  std::string name_;
  void* data_ = nullptr;
  std::size_t size_ = 0;
  /// The creator's pid while the name is still to be unlinked; 0 otherwise.
  std::atomic<int> owner_pid_{0};
};

/// Removes the /dev/shm entries of proctor segments whose creating process no longer runs (its
/// pid is gone, is a zombie, or now names a process that started at another time), and that
/// belong to this user. Segments of live processes are never touched. Returns how many it removed.
/// Called by proctor::init(); safe to call at any time, from several processes at once.
std::size_t sweep_stale_segments() noexcept;

} // namespace proctor
