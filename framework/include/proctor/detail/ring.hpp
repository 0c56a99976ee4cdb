#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "proctor/queue_errc.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor::detail {

struct ring_header;

/// The process-local side of a bounded, many-producer many-consumer queue of variable-size byte
/// records in a shared segment — the substrate of queue, simple_queue, joinable_queue and pipe.
///
/// Crash safety: every change happens under a robust process-shared mutex and becomes visible
/// with one store at its end (a record exists once the tail moves past it). A process killed at
/// any instruction leaves at most an invisible, half-written record; the next process to take the
/// mutex is told its owner died and re-derives the count by walking the records. Records that do
/// not check out (bad length or tag) mark the ring corrupt: reported, never followed. A large
/// record that is copied in after the mutex (create()'s stage_large) is reserved under it while
/// its writer holds one of the ring's robust stage-slot mutexes, and committed by one CAS of its
/// tag; a getter that finds it uncommitted and the slot's holder dead (the kernel says so) skips
/// it, as the put never returned. A getter copies such a record out the same way, marked taken
/// under a slot of its own; if it dies first, the next getter takes the record back.
///
/// A queue's ring (create()'s stage_large) has getters in many processes: they hold a second
/// robust mutex, the read lease, and take a plain record under it alone — copy out, then one
/// store of the head — so that putters and getters do not contend for one lock. A getter that
/// dies holding the lease has taken the record or not, by that store; the next one repairs the
/// count.
///
/// Copies share the segment; the creating process's last copy unlinks its name.
/// @note Thread-safe and process-safe.
class ring {
 public:
  using deadline = std::optional<std::chrono::steady_clock::time_point>;

  /// Reads one record in place (under the ring's lock, or, for a large staged record, while the
  /// caller holds it as taken); may throw to reject it.
  using consumer = void (*)(void* context, const std::byte* data, std::size_t size);

  /// A ring of `capacity` payload bytes (rounded up to 8) holding at most `max_items` records
  /// (0: no count limit). `type_tag` names what the records hold; open() checks it.
  /// `stage_large`: records of 64 KiB and more are copied in and out with the lock released, so
  /// that a getter copying one out and a putter copying the next one in work at the same time.
  /// Not for a ring read with get_batch(), which already copies without the lock.
  /// `line_records`: each plain record takes whole cache lines (capacity rounded up to 64), so
  /// that a writer never stores into a line its reader is still reading a record from; for a
  /// ring that a reader drains while writers fill it (a mailbox: a stream of one-to-one messages
  /// of ~100 bytes went 8-17% faster), at the price of room.
  [[nodiscard]] static ring create(std::size_t capacity, std::size_t max_items,
                                   std::uint64_t type_tag, bool stage_large = false,
                                   bool line_records = false);

  /// Maps an existing ring; throws shm_error(invalid) if it is not a ring or holds another type.
  [[nodiscard]] static ring open(const segment_handle& handle, std::uint64_t type_tag);

  ring() noexcept = default;

  /// Copies `size` bytes in as one record; waits for room until `until`.
  /// Errors: full (deadline passed), closed, too_large, corrupt.
  [[nodiscard]] std::optional<queue_errc> put(const void* data, std::size_t size,
                                               const deadline& until);

  /// A part of a record put in parts.
  struct piece {
    const void* data;
    std::size_t size;
  };
  /// put() of one record made of `count` pieces, one after the other, copied straight in: a
  /// caller need not first join them in a buffer of its own.
  [[nodiscard]] std::optional<queue_errc> put(const piece* pieces, std::size_t count,
                                               const deadline& until);
  /// Copies `count` pieces to `to`, one after the other (as put() lays out a record).
  static void copy_pieces(void* to, const piece* pieces, std::size_t count) noexcept {
    auto* at = static_cast<std::byte*>(to);
    for (std::size_t k = 0; k < count; ++k) {
      if (pieces[k].size != 0)
        std::memcpy(at, pieces[k].data, pieces[k].size);
      at += pieces[k].size;
    }
  }

  /// Hands the oldest record to `consume`, then removes it; waits until `until` for one.
  /// If `consume` throws, the record is removed all the same and the exception propagates.
  /// Errors: empty (deadline passed), closed (closed and drained), corrupt.
  [[nodiscard]] std::optional<queue_errc> get(consumer consume, void* context,
                                               const deadline& until);

  /// Takes up to `max_records` records at once, without waiting and without the lock; returns
  /// how many it handed to `consume` (0 when empty). `error` is set to corrupt if the ring failed
  /// a check.
  /// @pre The caller is the ring's only reader: no other get, peek, pop or get_batch runs at the
  /// same time (a mailbox, which only its actor reads). Writers take the lock as always; they
  /// only ever see the room this frees a moment late.
  /// @note `consume` must not throw.
  std::size_t get_batch(consumer consume, void* context, std::size_t max_records,
                        std::optional<queue_errc>& error);

  /// For the only reader of a ring read with get_batch(), between takes: takes the count again
  /// if a writer's repair asked for it (see get_batch()); never waits for the lock. Called by
  /// get_batch() itself, and by a reader about to sleep on an empty ring.
  void settle();
  /// Like get(), but leaves the record in the ring and stores its position: pop(position) removes
  /// it once it has been dealt with, so a consumer that dies meanwhile leaves it for the next.
  /// @note For a ring with one consumer at a time (an actor's mailbox).
  [[nodiscard]] std::optional<queue_errc> peek(consumer consume, void* context,
                                                const deadline& until, std::uint64_t& position);

  /// What pop() did.
  enum class pop_result {
    popped,    ///< removed
    moved_on,  ///< the oldest record is no longer the one at `position` (or the ring is corrupt)
    busy,      ///< the lock was not had by `until` (a process stopped while it held it)
  };
  /// Removes the oldest record if it is still the one peek() found at `position`. Without
  /// `until`, waits for the lock.
  pop_result pop(std::uint64_t position, const deadline& until = std::nullopt);

  /// Waits until a record is in or the ring is closed (true), or `until` passes (false). Takes no
  /// record: another getter may take it first.
  bool wait_nonempty(const deadline& until);

  /// wait_nonempty()'s condition, without waiting: a record is in, or the ring is closed or
  /// failed a check.
  [[nodiscard]] bool readable() const;
  /// For a wait over several rings at once (proctor::wait()): the futex word a put bumps, and
  /// the count of getters waiting on it, which such a waiter raises by multi_waiter before it
  /// looks at the ring (readable()) and lowers when it wakes, so that puts after the look wake
  /// it. A put wakes one sleeper, or every one while a multi-waiter is among them: the waiter
  /// woken may not take the record, and a getter left asleep would wait out its slice.
  static constexpr std::uint32_t multi_waiter = 1u << 16;
  struct reader_words {
    std::atomic<std::uint32_t>* seq;
    std::atomic<std::uint32_t>* waiting;
  };
  [[nodiscard]] reader_words words_for_readers() const;

  /// Refuses new records from now on and wakes every waiter; records already in stay gettable.
  /// Without `until`, waits for the lock, so that no put completes after it. With `until`, a
  /// caller that must not be stopped by a process stopped while it holds the lock (a debugger's
  /// breakpoint inside a send, a SIGSTOP, a hostile process) closes without the lock once `until`
  /// passed (at least the lock's grace): a put under way may then still complete.
  void close(const deadline& until = std::nullopt);

  [[nodiscard]] std::size_t size() const;
  /// From the positions, so a crash between commit and count cannot hide a record.
  [[nodiscard]] bool empty() const;
  /// A hint before a put(): fetches the tail's line, for ownership, while the caller does other
  /// work. Harmless if the put never comes or goes elsewhere.
  void prepare_put() const;
  /// !empty() for the one reader's spin (get_batch()'s): also fetches the lines the next record
  /// may span, so that a record's arrival costs one wait for the writer's lines, not several.
  [[nodiscard]] bool poll_nonempty() const;
  [[nodiscard]] std::size_t capacity() const;
  [[nodiscard]] std::size_t max_items() const;
  [[nodiscard]] bool closed() const;
  /// The largest record put() accepts.
  [[nodiscard]] std::size_t max_record() const;

  // -- joinable_queue's task accounting ------------------------------------------------------
  /// Counted by put() when the ring was created joinable.
  [[nodiscard]] std::uint64_t unfinished() const;
  /// False if called more often than items were put (Python's ValueError).
  bool task_done();
  /// Waits until every item put has been marked done; false if `until` passed first.
  bool join(const deadline& until);
  void count_tasks(bool on);

  [[nodiscard]] segment_handle handle() const;
  [[nodiscard]] bool valid() const noexcept { return header_ != nullptr; }

  /// See shared_segment::dont_fork().
  void dont_fork() const noexcept {
    if (segment_)
      segment_->dont_fork();
  }

  /// See shared_segment::unlink(): the name goes now, the mapping stays while a copy holds it.
  void unlink() const noexcept {
    if (segment_)
      segment_->unlink();
  }

 private:
  std::optional<queue_errc> take(consumer consume, void* context, const deadline& until,
                                 std::uint64_t* peek_position);

  ring(std::shared_ptr<shared_segment> segment, ring_header* header, std::uint64_t capacity,
       bool leased, std::uint32_t line_records) noexcept
    : segment_(std::move(segment)), header_(header), capacity_(capacity), leased_(leased),
      line_records_(line_records) {}

  /// True if the ring is marked corrupt, which it is now if its records' layout (line_records,
  /// which every walk of the records reads from the header) is no longer the one it was made
  /// with: a buggy process flipped it.
  [[nodiscard]] bool corrupt_now() const noexcept;

  std::shared_ptr<shared_segment> segment_;
  ring_header* header_ = nullptr;
  std::uint64_t capacity_ = 0;  ///< Read once: a scribbled header cannot send us out of bounds.
  bool leased_ = false;         ///< Getters hold the read lease (read once, like capacity_).
  std::uint32_t line_records_ = 0; ///< The records' layout as it was at open (see corrupt_now()).

  // What put() last saw of the getters' side: the head and the count of records taken, both of
  // which only grow. Read through atomic_ref: the threads of a process may share this object.
  [[nodiscard]] std::uint64_t seen_head() const noexcept {
    return std::atomic_ref<const std::uint64_t>{seen_head_}.load(std::memory_order_relaxed);
  }
  void seen_head(std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>{seen_head_}.store(v, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t seen_got() const noexcept {
    return std::atomic_ref<const std::uint64_t>{seen_got_}.load(std::memory_order_relaxed);
  }
  void seen_got(std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>{seen_got_}.store(v, std::memory_order_relaxed);
  }
  alignas(8) std::uint64_t seen_head_ = 0;
  alignas(8) std::uint64_t seen_got_ = 0;
  // What a get last saw of the putters' tail: records before it stay committed until taken.
  [[nodiscard]] std::uint64_t seen_tail() const noexcept {
    return std::atomic_ref<const std::uint64_t>{seen_tail_}.load(std::memory_order_relaxed);
  }
  void seen_tail(std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>{seen_tail_}.store(v, std::memory_order_relaxed);
  }
  alignas(8) std::uint64_t seen_tail_ = 0;
  // How many of this process's last looks at the putters' tail (up to 2) found records at once,
  // with no get between them that waited or found nothing: 2 means it caught up with a stream
  // (see take()).
  [[nodiscard]] std::uint32_t found_at_once() const noexcept {
    return std::atomic_ref<const std::uint32_t>{found_at_once_}.load(std::memory_order_relaxed);
  }
  void found_at_once(std::uint32_t n) noexcept {
    std::atomic_ref<std::uint32_t>{found_at_once_}.store(n, std::memory_order_relaxed);
  }
  alignas(4) std::uint32_t found_at_once_ = 0;
  // Where this process's last put ended: a put that finds the tail there follows its own (no
  // other putter came between), and asks for lines ahead (see put()).
  [[nodiscard]] std::uint64_t own_end() const noexcept {
    return std::atomic_ref<const std::uint64_t>{own_end_}.load(std::memory_order_relaxed);
  }
  void own_end(std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>{own_end_}.store(v, std::memory_order_relaxed);
  }
  alignas(8) std::uint64_t own_end_ = 0;
};

} // namespace proctor::detail
