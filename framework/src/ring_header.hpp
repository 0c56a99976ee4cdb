#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace proctor::detail {

/// The start of a ring's segment, mapped by every process that uses the ring; the records follow
/// at data_offset. Only fixed-size C data, lock-free atomics and positions — never pointers.
///
/// Positions (head, tail) count bytes from the ring's creation and only grow; a record lives at
/// position % capacity. Every record starts with a record_prefix and takes 8-byte steps, or whole
/// 64-byte lines in a ring with line_records.
/// Invariants under the mutex: head <= tail, tail - head <= capacity, and walking the records from
/// head lands exactly on tail; put_tail == tail; put_count - got_count is the number of data
/// records walked (derived state, repaired after a crash).
struct ring_header {
  std::uint64_t magic;         ///< ring_magic once initialized (written last).
  std::uint32_t version;
  std::uint32_t count_tasks;   ///< joinable_queue: put() counts unfinished tasks.
  std::uint64_t type_tag;      ///< What the records hold; open() checks it.
  std::uint64_t capacity;      ///< Bytes of record space; a multiple of 8.
  std::uint64_t max_items;     ///< 0: bounded by bytes only.
  std::uint32_t stage_large;   ///< Large records are copied in outside the mutex (staged_tag).
  std::uint32_t read_lease;    ///< Getters hold read_mutex and take plain records without the
                               ///< mutex (a queue's ring; a mailbox's has one reader anyway).
  std::uint32_t line_records;  ///< Each plain record takes whole cache lines (a mailbox's ring):
                               ///< a writer then never stores into a line the reader is still
                               ///< reading a record from. Capacity a multiple of 64.
  // Read by every call, written about once in a ring's life: with the fields above, on a line
  // that every process keeps a clean copy of.
  std::atomic<std::uint32_t> closed;
  std::atomic<std::uint32_t> corrupt;
  /// Set by a repair that may have counted while a getter took a record without the mutex
  /// (between its store of the head and its count): the next getter that holds the read lease,
  /// or a mailbox's reader, counts again under the mutex. Read at every get; rarely written.
  std::atomic<std::uint32_t> recount;
  /// On a cache line of its own: a lock and an unlock touch one line, not two (a queue of small
  /// items moved 1.6x as many items as with the mutex across two lines).
  /// Robust and process-shared: guards the positions, the records' space and the counts, except
  /// that a mailbox's one reader moves head and counts without it (get_batch), and that staged
  /// records are copied, and their tags moved, outside it. The futex words and waiter counts
  /// are atomics of their own.
  alignas(64) pthread_mutex_t mutex;
  /// The writers' copy of the tail, beside the mutex: a put reads it there, on a line no reader
  /// looks at, rather than on the tail's line, which a waiting reader keeps taking (pingpong
  /// waited there once each way). Equal to the tail under the mutex: stored right after it,
  /// and set from it by repair() when a writer died between the two.
  std::atomic<std::uint64_t> put_tail;
  std::atomic<std::uint64_t> put_count;        ///< Records put; the ring holds put - got.

  // What writers change at every put and readers look at, on a cache line of its own: the
  // reader and the writers each write their own line, and only read the other's.
  alignas(64) std::atomic<std::uint64_t> tail;
  std::atomic<std::uint32_t> put_seq;          ///< Futex word: bumped by a put that sees a
                                               ///< getter waiting, and by close.
  std::atomic<std::uint32_t> getters_waiting;  ///< Hints: a waiter killed while counted only
                                               ///< costs later wake-ups a syscall.
  std::atomic<std::uint64_t> pending_tail;     ///< joinable: the tail a put is committing; a
                                               ///< crash right after the commit is counted by
                                               ///< repair() from it.

  // What readers change at every get.
  alignas(64) std::atomic<std::uint64_t> head;
  std::atomic<std::uint64_t> got_count;        ///< Records taken.
  std::atomic<std::uint32_t> get_seq;          ///< Futex word: bumped by a get that sees a
                                               ///< putter waiting, and by close.
  std::atomic<std::uint32_t> putters_waiting;  ///< A flag: raised by a putter about to sleep,
                                               ///< lowered by the get that wakes them all.

  // joinable_queue only: put counts, getters count down.
  alignas(64) std::atomic<std::uint64_t> unfinished; ///< put minus task_done.
  std::atomic<std::uint32_t> done_seq;               ///< Futex word: bumped when it hits 0.

  /// Robust process-shared mutexes, one per large record being copied in or out without the
  /// mutex: its copier holds one until it is done, so that others ask the kernel whether it
  /// still lives (a trylock that says EOWNERDEAD), rather than guessing from pids.
  alignas(64) pthread_mutex_t stage_slots[8];

  /// Robust and process-shared, in a ring with read_lease: held by every get, peek and pop, so
  /// that getters move the head one at a time and putters, who never take it, do not contend
  /// with them. A getter takes a plain record under it alone; anything else (a staged record)
  /// under the mutex as well, always taken second.
  alignas(64) pthread_mutex_t read_mutex;
};

struct record_prefix {
  std::uint32_t size;  ///< Payload bytes (a wrap record: the bytes skipped to the end).
  std::uint32_t tag;   ///< One of the tags below.
};

/// Follows the prefix of a staged record: who copies it in.
struct staging_owner {
  std::uint32_t slot;        ///< The stage_slots mutex its writer holds until the commit.
  std::int32_t pid;          ///< For a reader of the segment; never trusted.
  std::uint64_t reserved;
};

inline constexpr std::uint64_t ring_magic = 0x31474e4952525043; // "CPRRING1"
inline constexpr std::uint32_t ring_version = 8;
inline constexpr std::uint32_t record_tag = 0x31434552;         // "REC1"
inline constexpr std::uint32_t wrap_tag = 0x50415257;           // "WRAP"
// A large record in a ring that stages them: reserved under the mutex as staging_tag while its
// writer holds a stage slot, its bytes copied in after the mutex is released, then committed by
// one release CAS of its tag to staged_tag before the slot is let go. A reader that finds the
// slot's holder dead turns the record into abandoned_tag (nobody gets it: its put never
// returned). Payload after the prefix and a staging_owner.
inline constexpr std::uint32_t staging_tag = 0x47415453;        // "STAG"
inline constexpr std::uint32_t staged_tag = 0x31474942;         // "BIG1"
inline constexpr std::uint32_t abandoned_tag = 0x44414544;      // "DEAD"
/// A staged record a getter copies out without the mutex, holding the stage slot its owner names;
/// back to staged_tag if that getter dies first.
inline constexpr std::uint32_t taking_tag = 0x454b4154;         // "TAKE"
inline constexpr std::uint64_t staged_offset = sizeof(record_prefix) + sizeof(staging_owner);
/// The least payload that is staged: below it the copy is too short to be worth the CAS.
inline constexpr std::uint64_t stage_threshold = 64 * 1024;
inline constexpr std::uint64_t data_offset = (sizeof(ring_header) + 63) / 64 * 64;

static_assert(sizeof(record_prefix) == 8);
static_assert(sizeof(staging_owner) == 16);
static_assert(std::is_standard_layout_v<ring_header>);
static_assert(offsetof(ring_header, put_count) + sizeof(std::uint64_t)
                <= offsetof(ring_header, mutex) + 64,
              "the writers' copy of the tail and their count are on the mutex's line");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::is_trivially_copyable_v<pthread_mutex_t>);
inline constexpr std::uint32_t stage_slot_count =
  sizeof(ring_header::stage_slots) / sizeof(ring_header::stage_slots[0]);

} // namespace proctor::detail
