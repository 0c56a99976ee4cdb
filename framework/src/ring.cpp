#include "proctor/detail/ring.hpp"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "futex.hpp"
#include "proctor/shm_error.hpp"
#include "ring_header.hpp"

namespace proctor::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::uint64_t round8(std::uint64_t n) { return (n + 7) & ~std::uint64_t{7}; }
constexpr std::uint64_t line_bytes = 64;
constexpr std::uint64_t round_line(std::uint64_t n) {
  return (n + line_bytes - 1) & ~(line_bytes - 1);
}

/// How long a waiter sleeps at most before it looks again. A wake-up meant for a waiter that was
/// killed is lost; this bounds what that costs the others.
constexpr auto wait_slice = std::chrono::seconds(1);

/// The least time put and get wait for the ring's lock: a busy lock is not a full or empty ring,
/// even for put_nowait and get_nowait.
constexpr auto lock_grace = std::chrono::milliseconds(20);
/// Attempts after a sched_yield() each before a busy lock is waited for in the kernel.
constexpr int yields_before_sleep = 100;

/// How often a getter waiting for a large record's commit looks whether its writer died.
constexpr auto stager_check = std::chrono::milliseconds(10);

/// How long a waiter spins before it sleeps (at least): a busy peer answers faster than a futex
/// wakes.
constexpr auto spin_time = std::chrono::microseconds(20);

/// How long a getter that caught up with a stream of puts waits before it looks for the next
/// records, in pause instructions (~1.5 us on the machine we measure on, an AMD EPYC; a pause
/// takes about twice as long on recent Intel cores; see ring::take()).
/// Half as many left the getter in step with the putter more often (~42 instead of ~44 M items/s).
constexpr int catch_up_pauses = 64;

/// How far beyond the record it has just written a put asks for lines to write the next ones
/// to, in bytes: a mailbox record of a message with its sender's name takes two lines, so four
/// records on. In a period when a line took long to move from one processor to the other (~1 us
/// round trips), counting ran 4.7 -> 21-23 M messages/s with it, twenty senders to one actor
/// 5 -> 17-23 M/s (though 4-7 in two runs of seven), and a queue of small items 18 -> 30-46 M/s;
/// where lines moved fast (~0.4 us), within the noise (medians within 5% either way in several
/// sets of interleaved runs). A reader that also asked for the record eight on as it took one
/// made counting no faster and the twenty senders 1.5-3.7 M/s.
constexpr std::uint64_t write_ahead = 512;

/// True if the processor has PREFETCHW (AMD since K8, Intel since Broadwell).
const bool has_prefetchw = [] {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(0x80000001, &a, &b, &c, &d) != 0 && (c & bit_PRFCHW) != 0;
}();

/// Asks for the line at `p` with the intent to write it, where the processor can.
void prefetch_to_write(const std::byte* p) {
  if (has_prefetchw)
    asm volatile("prefetchw %0" ::"m"(*p));
}

std::byte* data_of(ring_header* h) {
  return reinterpret_cast<std::byte*>(h) + data_offset;
}

/// The tag word of the record at `pos`: a staged record's writer commits it with a CAS.
std::atomic_ref<std::uint32_t> tag_at(ring_header* h, std::uint64_t cap, std::uint64_t pos) {
  return std::atomic_ref<std::uint32_t>{
    *reinterpret_cast<std::uint32_t*>(data_of(h) + pos % cap + offsetof(record_prefix, tag))};
}

record_prefix read_prefix(ring_header* h, std::uint64_t cap, std::uint64_t pos) {
  record_prefix p;
  std::memcpy(&p.size, data_of(h) + pos % cap, sizeof(p.size));
  p.tag = tag_at(h, cap, pos).load(std::memory_order_acquire); // a staged record's bytes come
  return p;                                                       // before its committed tag
}

bool is_staged(std::uint32_t tag) {
  return tag == staging_tag || tag == staged_tag || tag == taking_tag || tag == abandoned_tag;
}

/// Where the payload of a record of `tag` at `pos` starts.
const std::byte* payload_at(ring_header* h, std::uint64_t cap, std::uint64_t pos, std::uint32_t tag) {
  return data_of(h) + pos % cap + (tag == record_tag ? sizeof(record_prefix) : staged_offset);
}

staging_owner read_owner(ring_header* h, std::uint64_t cap, std::uint64_t pos) {
  staging_owner owner;
  std::memcpy(&owner, data_of(h) + pos % cap + sizeof(record_prefix), sizeof owner);
  return owner;
}

void write_prefix(ring_header* h, std::uint64_t cap, std::uint64_t pos, record_prefix p) {
  std::memcpy(data_of(h) + pos % cap, &p, sizeof(p));
}

/// The bytes a plain record of `size` payload bytes takes: whole cache lines in a ring that lays
/// them out so (line_records), 8-byte steps otherwise.
std::uint64_t plain_span(std::uint32_t line_records, std::uint64_t size) {
  return line_records != 0 ? round_line(sizeof(record_prefix) + size)
                           : sizeof(record_prefix) + round8(size);
}

/// The bytes a record at `pos` takes, or 0 if its prefix does not check out (a staged record in a
/// ring that does not stage them, a mailbox, does not). `prefix`, if given, gets the prefix read.
std::uint64_t record_span(ring_header* h, std::uint64_t cap, std::uint64_t pos, std::uint64_t limit,
                          bool& is_data, record_prefix* prefix = nullptr) {
  auto p = read_prefix(h, cap, pos);
  if (prefix != nullptr)
    *prefix = p;
  std::uint64_t index = pos % cap;
  std::uint64_t span;
  if (p.tag == wrap_tag) {
    span = cap - index;
    if (p.size + sizeof(record_prefix) != span)
      return 0;
    is_data = false;
  } else if (p.tag == record_tag || (is_staged(p.tag) && h->stage_large != 0)) {
    span = p.tag == record_tag ? plain_span(h->line_records, p.size) // see ring::corrupt_now()
                               : staged_offset + round8(p.size);
    if (index + span > cap)
      return 0;
    is_data = p.tag != abandoned_tag; // a staging record counts: its put may still return
  } else {
    return 0;
  }
  return pos + span <= limit ? span : 0;
}

/// The records the ring holds (a moment's view: the reader may be taking some).
std::uint64_t held(const ring_header* h) {
  auto got = h->got_count.load(std::memory_order_relaxed);
  auto put = h->put_count.load(std::memory_order_relaxed);
  return put >= got ? put - got : 0;
}

/// True if head and tail can be trusted to address records: aligned, ordered and at most one
/// capacity apart. Anything else was scribbled: following it could leave the mapping.
bool positions_sane(std::uint64_t head, std::uint64_t tail, std::uint64_t cap) {
  return head % 8 == 0 && tail % 8 == 0 && head <= tail && tail - head <= cap;
}

/// True if head is ahead of tail by less than a lap: a putter restarting an empty ring at the
/// beginning of the space (under the lock, or killed doing it) has moved the head but not yet
/// the tail.
bool restarting_empty(std::uint64_t head, std::uint64_t tail, std::uint64_t cap) {
  return head > tail && head - tail < cap && head % 8 == 0 && tail % 8 == 0;
}

/// Re-derives the count of records put from those between head and tail; marks the ring corrupt
/// if they do not walk. Exact under the mutex while no getter takes a record without it (the
/// caller holds the read lease, or is a mailbox's only reader).
void recount(ring_header* h, std::uint64_t cap) {
  auto head = h->head.load(std::memory_order_acquire);
  auto tail = h->tail.load(std::memory_order_relaxed);
  if (!positions_sane(head, tail, cap)) {
    h->corrupt.store(1);
    return;
  }
  std::uint64_t n = 0;
  for (auto pos = head; pos != tail;) {
    bool is_data = false;
    auto span = record_span(h, cap, pos, tail, is_data);
    if (span == 0) {
      h->corrupt.store(1);
      return;
    }
    n += is_data;
    pos += span;
  }
  h->put_count.store(h->got_count.load() + n);
}

/// Re-derives the counts after a process died holding the mutex; marks the ring corrupt if the
/// records between head and tail do not walk. `quiet`: no getter can be taking a record without
/// the mutex meanwhile; otherwise one may be between moving the head and counting, and the count
/// is taken again later (recount).
void repair(ring_header* h, std::uint64_t cap, bool quiet) {
  auto head = h->head.load(std::memory_order_relaxed);
  auto tail = h->tail.load(std::memory_order_relaxed);
  h->put_tail.store(tail); // killed between the tail's store and its copy's
  if (restarting_empty(head, tail, cap)) {
    h->tail.store(head); // killed between the two stores that reset an empty ring
    h->put_tail.store(head);
    h->put_count.store(h->got_count.load());
    h->pending_tail.store(0);
  } else if (!positions_sane(head, tail, cap)) {
    h->corrupt.store(1);
    return;
  } else {
    // Killed after committing a record but before counting its task: count it now.
    if (auto pending = h->pending_tail.load(); pending != 0) {
      if (pending == tail && h->count_tasks)
        h->unfinished.fetch_add(1);
      h->pending_tail.store(0);
    }
    recount(h, cap);
  }
  if (!quiet)
    h->recount.store(1);
}

// Waking. A futex word is bumped only when somebody waits on it: the side that changes the ring
// (a put moves the tail, a get the head) publishes the change, then, after a full barrier, looks
// at the waiters' mark — the getters' count, the putters' flag; a waiter marks itself (a full
// barrier), then looks at the position once more before it sleeps on the word it read before
// that look. Either the changer sees the waiter, or the waiter sees the change: no wake-up is
// lost, and a put or get with nobody waiting pays no locked instruction on the line the other
// side reads. (A getter killed or stopped between lowering the putters' flag and waking them
// leaves them asleep until their wait_slice ends, as a wake-up meant for a killed waiter is.)

/// How the change a wake_*() follows was ordered before its look at the waiters.
enum class ordered {
  fence,         ///< not yet: the wake fences
  by_locked_op,  ///< the caller has just executed a locked instruction (a mutex's unlock, an
                 ///< atomic add) after the change
};

/// The full barrier between a change and the look at the waiters. On x86 a locked instruction
/// is one (it drains the store buffer), so after one only the compiler is held back: a second
/// fence right after a robust mutex's unlock made a queue of small items move a third less.
void barrier_before_look(ordered how) {
#if defined(__x86_64__) || defined(__i386__)
  if (how == ordered::by_locked_op) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return;
  }
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// After a put: wakes one getter if any waits (all: each of them, for a record that getters
/// may have been waiting behind, or with a multi-waiter among them, see words_for_readers()).
void wake_getter(ring_header* h, bool all = false, ordered how = ordered::fence) {
  barrier_before_look(how);
  if (auto waiting = h->getters_waiting.load(std::memory_order_relaxed); waiting != 0) {
    h->put_seq.fetch_add(1);
    if (all || waiting >= ring::multi_waiter)
      futex_wake(h->put_seq);
    else
      futex_wake(h->put_seq, 1);
  }
}

/// After a get: wakes the putters that wait for room. Putters raise a flag rather than count
/// themselves, and the getter that wakes them lowers it: while a woken putter is on its way
/// back, later gets make no system call (counted, every get until it came back made one, and a
/// queue of small items moved a fraction of what it can).
void wake_putters(ring_header* h, ordered how = ordered::fence) {
  barrier_before_look(how);
  if (h->putters_waiting.load(std::memory_order_relaxed) != 0
      && h->putters_waiting.exchange(0) != 0) {
    h->get_seq.fetch_add(1);
    futex_wake(h->get_seq);
  }
}

/// After a repair or recount, which may lower the count: every putter waiting for room looks
/// again. Unconditional: such a putter may have raised its flag after the change, on a word read
/// before it (its wait looks at the positions and the taken count, not at this).
void count_dropped(ring_header* h) {
  h->get_seq.fetch_add(1);
  futex_wake(h->get_seq);
}

/// Counts again now, as a repair asked (the recount flag), for a caller under whom no getter can
/// be half-way through a take: clears the flag, recounts, wakes the putters.
void recount_asked(ring_header* h, std::uint64_t cap) {
  h->recount.store(0);
  recount(h, cap);
  count_dropped(h);
}

/// pthread_mutex_trylock on one of the ring's robust mutexes, a holder that died counting as
/// free (the mutex made consistent; `died` says so): 0 if the caller now holds it.
int trylock_taking_over(pthread_mutex_t* m, bool* died = nullptr) {
  int rc = ::pthread_mutex_trylock(m);
  if (died != nullptr)
    *died = rc == EOWNERDEAD;
  if (rc == EOWNERDEAD) {
    ::pthread_mutex_consistent(m);
    rc = 0;
  }
  return rc;
}

/// Gives up the copy of the record at `pos`, whose copier is gone: a record being copied in
/// (`tag` staging) is abandoned, as its put never returned; one being copied out (taking) is back
/// for the next getter, as its get never returned. A no-op if the tag has moved on. Under the
/// ring's mutex.
/// `may_count`: the caller may add to the count of records taken, which an abandoned record
/// needs: it holds the read lease, or the ring has none. A putter in a ring with a lease may not
/// (a getter holding the lease counts by a plain store, take_leased()): it asks for a recount
/// instead, which the next getter makes under the lease (an abandoned record is not counted).
void give_up_copy(ring_header* h, std::uint64_t cap, std::uint64_t pos, std::uint32_t tag,
                  bool may_count) {
  auto word = tag_at(h, cap, pos);
  if (tag == taking_tag) {
    word.compare_exchange_strong(tag, staged_tag);
  } else if (tag == staging_tag && word.compare_exchange_strong(tag, abandoned_tag)) {
    if (may_count)
      h->got_count.fetch_add(1, std::memory_order_relaxed);
    else
      h->recount.store(1);
  }
}

/// Gives up every copy that the dead holder of stage slot `slot` was making. Under the ring's
/// mutex. `may_count`: see give_up_copy().
void give_up_copies_by(ring_header* h, std::uint64_t cap, std::uint32_t slot, bool may_count) {
  auto head = h->head.load(std::memory_order_relaxed);
  auto tail = h->tail.load(std::memory_order_relaxed);
  if (!positions_sane(head, tail, cap))
    return;
  for (auto pos = head; pos != tail;) {
    bool is_data = false;
    auto span = record_span(h, cap, pos, tail, is_data);
    if (span == 0)
      return; // reported by whoever walks it next
    auto tag = tag_at(h, cap, pos).load(std::memory_order_acquire);
    if ((tag == staging_tag || tag == taking_tag) && read_owner(h, cap, pos).slot == slot)
      give_up_copy(h, cap, pos, tag, may_count);
    pos += span;
  }
}

/// A free stage slot, now held by the caller; nullopt if all are busy. A slot whose holder died
/// is taken over once that holder's copy is given up. Under the ring's mutex. `may_count`: see
/// give_up_copy().
std::optional<std::uint32_t> take_stage_slot(ring_header* h, std::uint64_t cap, bool may_count) {
  for (std::uint32_t k = 0; k < stage_slot_count; ++k) {
    int rc = ::pthread_mutex_trylock(&h->stage_slots[k]);
    if (rc == EOWNERDEAD) {
      give_up_copies_by(h, cap, k, may_count);
      ::pthread_mutex_consistent(&h->stage_slots[k]);
      wake_getter(h, true); // the getters waiting behind the dead copier's record look again
      rc = 0;
    }
    if (rc == 0)
      return k;
  }
  return std::nullopt;
}

/// True while a live thread copies the record at `pos` (staging or taking) in or out, as the
/// kernel knows it: it holds the stage slot the record names. Under the ring's mutex, by a
/// getter (which holds the read lease in a ring that has one).
bool copier_alive(ring_header* h, std::uint64_t cap, std::uint64_t pos) {
  auto slot = read_owner(h, cap, pos).slot;
  if (slot >= stage_slot_count)
    return false; // scribbled: no copier will ever finish it
  int rc = ::pthread_mutex_trylock(&h->stage_slots[slot]);
  if (rc == 0) { // it let go of its slot: finished (the tag has moved on), or it never held it
    ::pthread_mutex_unlock(&h->stage_slots[slot]);
  } else if (rc == EOWNERDEAD) {
    give_up_copies_by(h, cap, slot, true);
    ::pthread_mutex_consistent(&h->stage_slots[slot]);
    ::pthread_mutex_unlock(&h->stage_slots[slot]);
  }
  // ENOTRECOVERABLE: unlocked by a holder told of a death without making it consistent.
  return rc == EBUSY;
}

/// lock_patiently() once the first try failed: more tries after a sched_yield() each, then a
/// wait. No tries a pause apart: each try is a locked instruction that takes the lock's line
/// from its holder, whose stores to that line (the count, the tail's copy) and unlock then wait
/// for it to come back, and a waiter that spins keeps a CPU from the process that would free it
/// (the reader, or a holder waiting for a CPU when many writers share few cores). A sleep in the
/// kernel costs both sides a switch. Twenty senders to one actor on two cores moved ~6 M
/// messages/s with 100 tries a pause apart before the yields, ~20 M/s with none (five runs
/// each, interleaved). With a deadline, the clock is looked at every few yields: on a loaded
/// machine a yield may give the CPU away for a whole time slice.
[[gnu::noinline, gnu::cold]] int lock_contended(pthread_mutex_t* m, const ring::deadline& by) {
  auto until = by;
  if (until)
    until = std::max(*until, clock::now() + lock_grace);
  int rc = EBUSY;
  for (int i = 1; i <= yields_before_sleep && rc == EBUSY; ++i) {
    ::sched_yield();
    rc = ::pthread_mutex_trylock(m);
    if (rc == EBUSY && until && i % 8 == 0 && clock::now() >= *until)
      return ETIMEDOUT;
  }
  if (rc != EBUSY)
    return rc;
  if (!until)
    return ::pthread_mutex_lock(m);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until->time_since_epoch()).count();
  timespec abs{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  return ::pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &abs);
}

/// Locks one of the ring's robust mutexes: the result of pthread_mutex_lock (0, EOWNERDEAD,
/// ENOTRECOVERABLE) or ETIMEDOUT once `until` passed — at least lock_grace after the call, for a
/// busy lock is not a full or empty ring. The first try usually gets it, without a system call
/// and without reading the clock, which only a wait needs.
/// `until` by reference: a copy for the cold call was built in two stores and read in one load
/// at every lock, which the processor cannot forward (a tenth of a small put's time).
int lock_patiently(pthread_mutex_t* m, const ring::deadline& until) {
  int rc = ::pthread_mutex_trylock(m);
  return rc == EBUSY ? lock_contended(m, until) : rc;
}

/// repair() for a caller of the mutex without the read lease: with the lease held meanwhile if
/// it is free (or its holder died), so that no getter is half-way through a take without the
/// mutex; otherwise the getter counts again later. Never waits for the lease: the order is
/// lease, then mutex. A mailbox's reader takes without a lease: its count is always taken again.
void repair_without_lease(ring_header* h, std::uint64_t cap) {
  int rc = h->read_lease != 0 ? trylock_taking_over(&h->read_mutex) : EBUSY;
  repair(h, cap, rc == 0);
  if (rc == 0)
    ::pthread_mutex_unlock(&h->read_mutex);
}

/// Holds one of the ring's mutexes: the mutex itself (repairing the ring if its previous holder
/// died), or, as a `lease`, the getters' read_mutex (`skip`: holds nothing, for a ring without
/// it). A getter that died holding the lease may have moved the head without counting: the
/// counts are repaired under the mutex.
class ring_lock {
 public:
  /// mutex: the ring's mutex, for a caller that does not hold the read lease; mutex_quiet: for
  /// one that does, or is a mailbox's only reader (no getter can be half-way through a take
  /// without the mutex); lease: the read lease; skip: nothing, for a ring without a lease.
  enum kind { mutex, mutex_quiet, lease, skip };

  ring_lock(ring_header* h, std::uint64_t cap, const ring::deadline& until, kind k = mutex)
    : m_(k == lease ? &h->read_mutex : &h->mutex) {
    if (k == skip) {
      held_ = true;
      m_ = nullptr;
      return;
    }
    int rc = lock_patiently(m_, until);
    if (rc == EOWNERDEAD) {
      if (k == lease)
        h->recount.store(1); // it may have died between moving the head and counting: see take()
      else if (k == mutex_quiet)
        repair(h, cap, true);
      else
        repair_without_lease(h, cap);
      if (k != lease)
        count_dropped(h);
      ::pthread_mutex_consistent(m_);
      rc = 0;
    }
    if (rc == ENOTRECOVERABLE)
      h->corrupt.store(1);
    held_ = rc == 0;
    timed_out_ = rc == ETIMEDOUT;
  }
  ~ring_lock() { unlock(); }
  ring_lock(const ring_lock&) = delete;
  ring_lock& operator=(const ring_lock&) = delete;

  void unlock() {
    if (held_ && m_ != nullptr)
      ::pthread_mutex_unlock(m_);
    held_ = false;
  }
  [[nodiscard]] bool held() const { return held_; }
  [[nodiscard]] bool timed_out() const { return timed_out_; }

 private:
  pthread_mutex_t* m_;
  bool held_ = false;
  bool timed_out_ = false;
};

bool past(const ring::deadline& until) {
  return until && clock::now() >= *until;
}

/// Sleeps on `word` while it holds `seen`, at most one slice and never past `until`.
void park(std::atomic<std::uint32_t>& word, std::uint32_t seen, const ring::deadline& until) {
  auto wake_at = clock::now() + wait_slice;
  if (until && *until < wake_at)
    wake_at = *until;
  futex_wait(word, seen, wake_at);
}

/// Spins briefly until `word` moves from `seen`; true if it did.
/// `at_least`: spins longer (for a copy of that long), but never past `until`.
template <class Word, class T>
bool spin_for_change(const Word& word, T seen, const ring::deadline& until,
                     std::chrono::nanoseconds at_least = std::chrono::nanoseconds{0}) {
  auto stop = clock::now() + std::max<std::chrono::nanoseconds>(spin_time, at_least);
  if (until && *until < stop)
    stop = *until;
  for (int i = 0;; ++i) {
    if (word.load(std::memory_order_acquire) != seen)
      return true;
    _mm_pause();
    // Yield now and then (a system call, which a change meanwhile waits out): the peer we wait
    // for may be runnable on this very CPU.
    if ((i & 63) == 63) {
      if (clock::now() >= stop)
        return false;
      ::sched_yield();
    }
  }
}

/// Sleeps on `word` (which held `seen` before the caller last looked) while `unchanged()`;
/// `waiting` counts the sleeper meanwhile.
/// `even_closed`: sleeps in a closed ring too (for a commit, which closing does not prevent).
template <class Unchanged>
void wait_while(ring_header* h, std::atomic<std::uint32_t>& word, std::uint32_t seen,
                std::atomic<std::uint32_t>& waiting, Unchanged unchanged,
                const ring::deadline& until, bool even_closed = false) {
  waiting.fetch_add(1); // seq_cst: before the look below (see wake_getter())
  if (unchanged() && (even_closed || h->closed.load() == 0))
    park(word, seen, until);
  waiting.fetch_sub(1);
}

/// Sleeps on `word` (which held `seen` before the caller last looked) while `unchanged()`, with
/// `flag` raised: the next get that sees it lowers it and wakes every sleeper (wake_putters());
/// close and repairs wake them without lowering it. A waiter that leaves without being woken
/// leaves the flag up, which costs the next get one system call.
template <class Unchanged>
void wait_flagged(ring_header* h, std::atomic<std::uint32_t>& word, std::uint32_t seen,
                  std::atomic<std::uint32_t>& flag, Unchanged unchanged,
                  const ring::deadline& until) {
  flag.store(1); // seq_cst: before the look below
  if (unchanged() && h->closed.load() == 0)
    park(word, seen, until);
}

/// Sleeps on `word` (which held `seen` before `position` was last seen at `was`) unless `position`
/// has moved since; `waiting` counts the sleeper meanwhile.
void wait_for_move(ring_header* h, std::atomic<std::uint32_t>& word, std::uint32_t seen,
                   std::atomic<std::uint32_t>& waiting, const std::atomic<std::uint64_t>& position,
                   std::uint64_t was, const ring::deadline& until) {
  wait_while(h, word, seen, waiting, [&] { return position.load() == was; }, until);
}

} // namespace

ring ring::create(std::size_t capacity, std::size_t max_items, std::uint64_t type_tag,
                  bool stage_large, bool line_records) {
  std::uint64_t cap = capacity < 64 ? 64 : capacity;
  cap = line_records ? round_line(cap) : round8(cap);
  auto segment = std::make_shared<shared_segment>(shared_segment::create(data_offset + cap));
  auto* h = new (segment->data()) ring_header{};
  h->version = ring_version;
  h->type_tag = type_tag;
  h->capacity = cap;
  h->max_items = max_items;
  h->stage_large = stage_large ? 1 : 0;
  h->read_lease = stage_large ? 1 : 0; // a queue's ring, with getters in many processes
  h->line_records = line_records ? 1 : 0;
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = ::pthread_mutex_init(&h->mutex, &attr);
  for (auto& slot : h->stage_slots)
    if (rc == 0)
      rc = ::pthread_mutex_init(&slot, &attr);
  if (rc == 0)
    rc = ::pthread_mutex_init(&h->read_mutex, &attr);
  ::pthread_mutexattr_destroy(&attr);
  if (rc != 0)
    throw shm_error(shm_errc::system, std::string{"queue: pthread_mutex_init: "} + std::strerror(rc));
  std::atomic_ref<std::uint64_t>{h->magic}.store(ring_magic, std::memory_order_release);
  return ring{std::move(segment), h, cap, h->read_lease != 0, h->line_records};
}

ring ring::open(const segment_handle& handle, std::uint64_t type_tag) {
  auto segment = std::make_shared<shared_segment>(shared_segment::open(handle));
  if (segment->size() < data_offset + 64)
    throw shm_error(shm_errc::invalid, "queue: segment " + handle.name + " is too small for a queue");
  auto* h = static_cast<ring_header*>(segment->data());
  if (std::atomic_ref<std::uint64_t>{h->magic}.load(std::memory_order_acquire) != ring_magic
      || h->version != ring_version || h->capacity % 8 != 0 || h->capacity < 64
      || (h->line_records != 0 && h->capacity % line_bytes != 0)
      || data_offset + h->capacity > segment->size())
    throw shm_error(shm_errc::invalid, "queue: segment " + handle.name + " holds no queue");
  if (h->type_tag != type_tag)
    throw shm_error(shm_errc::invalid,
                    "queue: segment " + handle.name + " holds items of another type");
  return ring{std::move(segment), h, h->capacity, h->read_lease != 0, h->line_records};
}

std::optional<queue_errc> ring::put(const void* data, std::size_t size, const deadline& until) {
  const piece whole{data, size};
  return put(&whole, 1, until);
}

std::optional<queue_errc> ring::put(const piece* pieces, std::size_t count, const deadline& until) {
  std::size_t size = 0;
  for (std::size_t k = 0; k < count; ++k) {
    if (pieces[k].size > UINT32_MAX - size)
      return queue_errc::too_large;
    size += pieces[k].size;
  }
  auto* h = header_;
  const std::uint64_t cap = capacity_; // never the shared field: a scribble must not move us
  const std::uint64_t plain_need = plain_span(line_records_, size); // size <= UINT32_MAX
  if (plain_need > cap)
    return queue_errc::too_large;
  // A large record is copied in after the lock is released, so that getters (and other putters)
  // need not wait for the copy. Its writer holds a stage slot meanwhile, so that a getter can
  // tell a slow copy from a writer that died. Not in a joinable queue: a task counted for a
  // record whose writer died would never be done.
  const bool stage = size >= stage_threshold && header_->stage_large && !header_->count_tasks
                     && staged_offset + round8(size) <= cap;
  bool fresh = stage; // read the getters' head, not the view of it this process keeps
  for (;;) {
    ring_lock lock{h, cap, until};
    if (!lock.held())
      return lock.timed_out() ? queue_errc::full : queue_errc::corrupt;
    if (corrupt_now())
      return queue_errc::corrupt;
    if (h->closed.load())
      return queue_errc::closed;
    // The head and the count of records taken as this process last saw them: both only grow,
    // so a stale view only understates the room. The line the getters write is read again only
    // when that view says the ring is full (or a large record may be staged): a put in a stream
    // leaves that line with the getter.
    auto tail = h->put_tail.load(std::memory_order_relaxed); // on the mutex's line: see put_tail
    auto head = seen_head();
    auto look_again = [&] {
      // Acquire: a mailbox's reader moves the head without the lock (get_batch), once it has
      // copied what lies before it.
      auto now = h->head.load(std::memory_order_acquire);
      if (now < head)
        h->corrupt.store(1); // moved back: scribbled
      head = now;
      seen_head(now);
      seen_got(h->got_count.load(std::memory_order_relaxed));
      fresh = true;
    };
    if (fresh || !positions_sane(head, tail, cap))
      look_again(); // asked to, or behind by more than a lap
    if (fresh && leased_ && h->max_items != 0
        && h->put_count.load(std::memory_order_relaxed) - seen_got() >= h->max_items) {
      // Full by the count, which may be one too high: a repair left it to be taken again by a
      // getter, or a getter died between moving the head and counting. With the lease free (or
      // its holder dead), this putter takes it, so that the queue does not stay full for want
      // of a get.
      bool died = false;
      if (trylock_taking_over(&h->read_mutex, &died) == 0) {
        if (died || h->recount.load() != 0) {
          recount_asked(h, cap);
          look_again();
        }
        ::pthread_mutex_unlock(&h->read_mutex);
      }
    }
    if (!positions_sane(head, tail, cap) || h->corrupt.load()) {
      h->corrupt.store(1);
      return queue_errc::corrupt;
    }
    // A slot only if a staged record may fit. None free (several large puts at once): copied
    // under the lock.
    auto slot = stage && staged_offset + round8(size) <= cap - (tail - head)
                  ? take_stage_slot(h, cap, !leased_)
                  : std::nullopt;
    const std::uint64_t need = slot ? staged_offset + round8(size) : plain_need;
    std::uint64_t contiguous = cap - tail % cap;
    if (head == tail && need > contiguous) {
      // Empty: restart at the beginning of the space, so that any record that fits at all fits.
      head = tail = tail + contiguous;
      seen_head(head);
      h->head.store(head, std::memory_order_relaxed);
      h->tail.store(tail, std::memory_order_release); // a getter that reads it reads this head
      h->put_tail.store(tail, std::memory_order_relaxed);
      contiguous = cap;
    }
    std::uint64_t waste = need > contiguous ? contiguous : 0;
    auto has_room = [&] {
      if (h->max_items == 0)
        return waste + need <= cap - (tail - head);
      auto put = h->put_count.load(std::memory_order_relaxed);
      auto got = seen_got();
      return waste + need <= cap - (tail - head) && (put < got || put - got < h->max_items);
    };
    bool room = has_room();
    if (!room && !fresh) {
      if (slot)
        ::pthread_mutex_unlock(&h->stage_slots[*slot]);
      fresh = true;
      continue; // decided again on what the getters left (an empty ring may restart)
    }

    if (room) {
      if (waste != 0)
        write_prefix(h, cap, tail, {static_cast<std::uint32_t>(waste - sizeof(record_prefix)), wrap_tag});
      auto at = tail + waste;
      if (slot) { // reserved now, copied in after the lock
        staging_owner owner{*slot, static_cast<std::int32_t>(::getpid()), 0};
        std::memcpy(data_of(h) + at % cap + sizeof(record_prefix), &owner, sizeof owner);
        write_prefix(h, cap, at, {static_cast<std::uint32_t>(size), staging_tag});
      } else {
        copy_pieces(data_of(h) + at % cap + sizeof(record_prefix), pieces, count);
        write_prefix(h, cap, at, {static_cast<std::uint32_t>(size), record_tag});
        if (h->count_tasks)
          h->pending_tail.store(at + need, std::memory_order_relaxed); // see repair()
      }
      // The commit (a staged record: its reservation; later records go after it).
      h->tail.store(at + need, std::memory_order_release);
      h->put_tail.store(at + need, std::memory_order_relaxed);
      // Writers count under the lock: a plain store, no locked instruction.
      h->put_count.store(h->put_count.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
      if (slot) {
        lock.unlock();
        // The space is ours until a getter has taken the record, which it cannot before the
        // commit.
        copy_pieces(data_of(h) + at % cap + staged_offset, pieces, count);
        auto expected = staging_tag;
        bool committed = tag_at(h, cap, at).compare_exchange_strong(
          expected, staged_tag, std::memory_order_release, std::memory_order_relaxed);
        ::pthread_mutex_unlock(&h->stage_slots[*slot]); // after the commit: see copier_alive()
        if (!committed) {
          h->corrupt.store(1); // only a scribble makes a getter give up a live writer's record
          return queue_errc::corrupt;
        }
        wake_getter(h, true); // getters may have been waiting behind it, woken by later puts
        return std::nullopt;
      }
      if (h->count_tasks) {
        h->unfinished.fetch_add(1);
        h->pending_tail.store(0, std::memory_order_relaxed);
      }
      lock.unlock();
      wake_getter(h, false, ordered::by_locked_op);
      // The line the next record starts on, asked for now: the reader has usually read it
      // since, and a put that asks only at its stores waits for it in its unlock, which drains
      // them (a locked instruction). Not the tail's line, which the reader looks at between
      // batches: taken early, it moves twice (counting: +4.6% with the one, -4% with both).
      __builtin_prefetch(data_of(h) + (at + need) % cap, 1);
      // The lines of a record a few records on, asked for now with the intent to write them:
      // the reader read them a lap ago, and the put that fills them would otherwise wait for
      // them in its unlock, as above. Only by a putter that follows its own put: among several,
      // the lines would go to the wrong one's processor. Not the next record's lines for
      // writing, which the reader may be looking at; not lines it has yet to read (a ring
      // almost full).
      bool alone = own_end() == tail;
      own_end(at + need);
      auto ahead = at + need + write_ahead;
      if (alone && ahead + need - head <= cap)
        for (std::uint64_t line = 0; line < need; line += line_bytes)
          prefetch_to_write(data_of(h) + (ahead + line) % cap);
      return std::nullopt;
    }
    if (slot)
      ::pthread_mutex_unlock(&h->stage_slots[*slot]);
    if (past(until))
      return queue_errc::full;
    auto seen = h->get_seq.load();
    lock.unlock();
    // A getter frees room once it has copied a large record out: spin for about that long
    // first. Small records leave in a stream: a putter that spins for them only takes the line
    // the getter writes (queue_throughput ran ~14% slower).
    if (stage && spin_for_change(h->head, head, until, std::chrono::nanoseconds{need}))
      continue;
    // The count too: a getter without the mutex moves the head, then counts; a putter full by
    // the count that looked between the two must not sleep on a head that has moved already.
    const auto got = seen_got();
    wait_flagged(h, h->get_seq, seen, h->putters_waiting,
                 [&] { return h->head.load() == head && h->got_count.load() == got; }, until);
  }
}

std::optional<queue_errc> ring::get(consumer consume, void* context, const deadline& until) {
  return take(consume, context, until, nullptr);
}

std::optional<queue_errc> ring::peek(consumer consume, void* context, const deadline& until,
                                     std::uint64_t& position) {
  return take(consume, context, until, &position);
}

ring::pop_result ring::pop(std::uint64_t position, const deadline& until) {
  auto* h = header_;
  const std::uint64_t cap = capacity_;
  ring_lock lease{h, cap, until, leased_ ? ring_lock::lease : ring_lock::skip};
  if (!lease.held())
    return lease.timed_out() ? pop_result::busy : pop_result::moved_on;
  ring_lock lock{h, cap, until, leased_ ? ring_lock::mutex_quiet : ring_lock::mutex};
  if (!lock.held())
    return lock.timed_out() ? pop_result::busy : pop_result::moved_on;
  if (corrupt_now())
    return pop_result::moved_on;
  auto head = h->head.load(std::memory_order_relaxed);
  auto tail = h->tail.load(std::memory_order_acquire);
  if (head != position || head == tail || !positions_sane(head, tail, cap))
    return pop_result::moved_on;
  bool is_data = false;
  record_prefix prefix;
  auto span = record_span(h, cap, head, tail, is_data, &prefix);
  if (span == 0 || !is_data || prefix.tag == staging_tag || prefix.tag == taking_tag)
    return pop_result::moved_on;
  h->head.store(head + span, std::memory_order_release);
  h->got_count.fetch_add(1, std::memory_order_relaxed);
  lock.unlock();
  wake_putters(h, ordered::by_locked_op);
  return pop_result::popped;
}

std::size_t ring::get_batch(consumer consume, void* context, std::size_t max_records,
                            std::optional<queue_errc>& error) {
  auto* h = header_;
  const std::uint64_t cap = capacity_;
  error.reset();
  settle();
  // The tail first: a record is committed by its tail store (release), and a writer that
  // restarts an empty ring at the beginning of the space moves the head before the tail.
  auto tail = h->tail.load(std::memory_order_acquire);
  auto head = h->head.load(std::memory_order_acquire);
  if (head == tail)
    return 0;
  if (corrupt_now()) {
    error = queue_errc::corrupt;
    return 0;
  }
  if (restarting_empty(head, tail, cap))
    return 0;
  if (!positions_sane(head, tail, cap)) {
    h->corrupt.store(1);
    error = queue_errc::corrupt;
    return 0;
  }
  std::size_t n = 0;
  while (head != tail && n < max_records) {
    bool is_data = false;
    record_prefix prefix;
    auto span = record_span(h, cap, head, tail, is_data, &prefix);
    if (span == 0 || (is_data && prefix.tag != record_tag)) { // a mailbox stages no records
      h->corrupt.store(1);
      error = queue_errc::corrupt;
      break;
    }
    if (is_data) {
      consume(context, data_of(h) + head % cap + sizeof(record_prefix), prefix.size);
      ++n;
      // The only reader counts alone: a plain store, no locked instruction.
      h->got_count.store(h->got_count.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    }
    head += span;
    // Each record leaves as it is copied (release: the copy is done before a writer reuses the
    // bytes): a reader killed half-way loses nothing it did not take.
    h->head.store(head, std::memory_order_release);
  }
  wake_putters(h);
  return n;
}

void ring::settle() {
  auto* h = header_;
  if (h->recount.load(std::memory_order_relaxed) == 0 || corrupt_now())
    return;
  // A writer's repair counted while this reader may have been between its count and its head
  // (see repair()): count again, between takes. Never waits: a writer that holds the mutex
  // (stopped, say) leaves it for the next time.
  int rc = ::pthread_mutex_trylock(&h->mutex);
  if (rc == EOWNERDEAD) {
    repair(h, capacity_, true);
    ::pthread_mutex_consistent(&h->mutex);
    rc = 0;
  }
  if (rc != 0)
    return;
  recount_asked(h, capacity_);
  ::pthread_mutex_unlock(&h->mutex);
}

namespace {

/// Copies the large committed record at `head` out with the lock released, so that putters, and
/// the copy in of the next record, need not wait for it. The record is marked taking under the
/// caller's stage slot (`slot`, held): other getters wait while its holder lives, and give the
/// record back (to be taken again) if it died, as its get never returned. Removes the record
/// afterwards, or if `consume` throws.
std::optional<queue_errc> take_outside_lock(ring_header* h, std::uint64_t cap, ring_lock& lock,
                                            ring_lock::kind relock, std::uint64_t head,
                                            std::uint64_t span, std::uint32_t size,
                                            std::uint32_t slot, ring::consumer consume,
                                            void* context) {
  staging_owner owner{slot, static_cast<std::int32_t>(::getpid()), 0};
  std::memcpy(data_of(h) + head % cap + sizeof(record_prefix), &owner, sizeof owner);
  tag_at(h, cap, head).store(taking_tag, std::memory_order_release);
  lock.unlock();
  auto finish = [&] {
    {
      ring_lock again{h, cap, std::nullopt, relock};
      // Nobody else moves the head past a record that a live getter takes.
      if (again.held() && h->head.load(std::memory_order_relaxed) == head) {
        h->head.store(head + span, std::memory_order_release);
        h->got_count.fetch_add(1, std::memory_order_relaxed);
      }
    }
    ::pthread_mutex_unlock(&h->stage_slots[slot]);
    wake_putters(h);
    wake_getter(h, true); // the getters that waited behind it
  };
  try {
    consume(context, data_of(h) + head % cap + staged_offset, size);
  } catch (...) {
    finish();
    throw;
  }
  finish();
  return std::nullopt;
}

} // namespace

namespace {

enum class leased_take { taken, empty, closed, locked };

/// Takes the oldest record without the ring's mutex, if it is a plain one, for a getter that
/// holds the read lease: nobody else moves the head meanwhile, but a putter restarting an empty
/// ring. `locked`: anything else — a staged record, a ring that fails a check — is for the
/// caller to look at under the mutex.
/// `tail`: in, the tail as this process last saw it; out, the tail looked at (an empty ring's).
leased_take take_leased(ring_header* h, std::uint64_t cap, ring::consumer consume, void* context,
                        std::uint64_t& tail, bool& looked) {
  // Closed first: a put that came before the close is then in the tail read after it.
  bool closed = h->closed.load() != 0;
  auto head = h->head.load(std::memory_order_acquire);
  // The putters' line is read only when the view of it says empty: positions only grow, so the
  // records between the head and a tail seen before are committed, and stay until taken. A get
  // in a stream then leaves that line with the putter, whose stores need not wait for it.
  // A look reads the tail, then the head again: a putter that restarts an empty ring at the
  // beginning of its space moves the head, then the tail (release), so a tail from after the
  // restart comes with the head from after it. A head read before the tail could be from
  // before the restart, and what lies between it and the new tail is an old lap's bytes.
  bool fresh = false;
  bool scribbled = false;
  auto look = [&] {
    tail = h->tail.load(std::memory_order_acquire);
    auto now = h->head.load(std::memory_order_acquire);
    if (now < head) { // under the lease only a restart moves it, and only forward
      h->corrupt.store(1);
      scribbled = true;
    }
    head = now;
    fresh = true;
    looked = true;
  };
  if (!(head < tail && tail - head <= cap))
    look();
  bool moved = false;
  auto result = leased_take::locked;
  while (!scribbled && positions_sane(head, tail, cap)) {
    if (head == tail) {
      if (!fresh) {
        look();
        continue;
      }
      result = closed ? leased_take::closed : leased_take::empty;
      break;
    }
    bool is_data = false;
    record_prefix prefix;
    auto span = record_span(h, cap, head, tail, is_data, &prefix);
    if (span == 0 || (prefix.tag != record_tag && prefix.tag != wrap_tag))
      break;
    if (prefix.tag == wrap_tag) {
      head += span;
      h->head.store(head, std::memory_order_release);
      moved = true;
      continue;
    }
    // Removed once copied (release: the copy is done before a putter reuses the bytes), then
    // counted: repair() tells a getter killed between the two from one that did both. Counted
    // by a plain store: in a ring with a lease, whoever adds to the count holds the lease (a
    // getter here or under the mutex; a putter that gives up a dead writer's record asks for a
    // recount instead, see give_up_copy()). The putters are woken by the caller once it has let
    // the lease go, whose locked instruction orders the head's store before the look at their
    // flag (a locked add here cost the getter a tenth of its pace in a stream of small items).
    auto finish = [&] {
      h->head.store(head + span, std::memory_order_release);
      h->got_count.store(h->got_count.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    };
    try {
      consume(context, data_of(h) + head % cap + sizeof(record_prefix), prefix.size);
    } catch (...) {
      finish();
      wake_putters(h);
      throw;
    }
    finish();
    return leased_take::taken;
  }
  if (moved)
    wake_putters(h);
  return result;
}

} // namespace

std::optional<queue_errc> ring::take(consumer consume, void* context, const deadline& until,
                                     std::uint64_t* peek_position) {
  auto* h = header_;
  const std::uint64_t cap = capacity_; // never the shared field: a scribble must not move us
  // Holding the lease, this getter is the only one that could be half-way through a take.
  const auto mutex_kind = leased_ ? ring_lock::mutex_quiet : ring_lock::mutex;
  // A getter that caught up with a stream (its last two looks found records at once, with no
  // get between them that waited or came back empty) lets the putters get ahead before it
  // looks at their line again: looking right after each put, it would take that line and the
  // line of the next record from the putter between its stores, and the putter's unlock would
  // wait for them every time (a queue of small items moved ~35 M/s with both sides in step,
  // ~45 M/s once the getter fell behind; a streak of 4 or 8 looks instead of 2 lost a third
  // and a half of that in a slow period). A get that pauses counts as one that waited, and a
  // get that finds nothing ends the streak: a round trip whose answer comes after the get's
  // first look (a pipe's recv looks once without waiting first) never pauses. The price: a
  // caller whose every answer is already there when it looks (it works between request and
  // get) pauses at every third get. A get whose deadline has passed (get_nowait) never pauses.
  bool waited = false;
  if (leased_ && peek_position == nullptr && found_at_once() >= 2
      && h->head.load(std::memory_order_relaxed) == seen_tail() && !past(until)) {
    for (int i = 0; i < catch_up_pauses; ++i)
      _mm_pause();
    waited = true;
  }
  for (;;) {
    ring_lock lease{h, cap, until, leased_ ? ring_lock::lease : ring_lock::skip};
    if (!lease.held())
      return lease.timed_out() ? queue_errc::empty : queue_errc::corrupt;
    if (leased_ && h->recount.load(std::memory_order_relaxed) != 0) {
      // A repair counted while a getter may have been half-way (or a getter died holding the
      // lease): count again now that none can be. Taken up by the next get if the mutex is
      // busy past the deadline.
      ring_lock lock{h, cap, until, mutex_kind};
      if (lock.held())
        recount_asked(h, cap);
    }
    if (leased_ && peek_position == nullptr) {
      if (corrupt_now())
        return queue_errc::corrupt;
      std::uint64_t tail = seen_tail();
      bool looked = false;
      auto quick = take_leased(h, cap, consume, context, tail, looked);
      seen_tail(tail);
      if (quick == leased_take::taken) {
        if (waited)
          found_at_once(0);
        else if (looked)
          found_at_once(std::min(found_at_once() + 1, 2u));
        lease.unlock();
        wake_putters(h, ordered::by_locked_op);
        return std::nullopt;
      }
      if (quick == leased_take::closed)
        return queue_errc::closed;
      if (quick == leased_take::empty) {
        found_at_once(0);
        if (past(until))
          return queue_errc::empty;
        auto seen = h->put_seq.load();
        lease.unlock();
        waited = true;
        if (spin_for_change(h->tail, tail, until))
          continue;
        wait_for_move(h, h->put_seq, seen, h->getters_waiting, h->tail, tail, until);
        continue;
      }
      // locked: looked at under the mutex below
    }
    ring_lock lock{h, cap, until, mutex_kind};
    if (!lock.held())
      return lock.timed_out() ? queue_errc::empty : queue_errc::corrupt;
    if (corrupt_now())
      return queue_errc::corrupt;
    auto head = h->head.load(std::memory_order_relaxed);
    auto tail = h->tail.load(std::memory_order_acquire);
    if (head == tail) {
      if (h->closed.load())
        return queue_errc::closed;
      if (past(until))
        return queue_errc::empty;
      auto seen = h->put_seq.load();
      lock.unlock();
      lease.unlock();
      if (spin_for_change(h->tail, tail, until))
        continue;
      wait_for_move(h, h->put_seq, seen, h->getters_waiting, h->tail, tail, until);
      continue;
    }
    if (!positions_sane(head, tail, cap)) {
      h->corrupt.store(1);
      return queue_errc::corrupt;
    }
    bool is_data = false;
    record_prefix prefix;
    auto span = record_span(h, cap, head, tail, is_data, &prefix);
    if (span == 0) {
      h->corrupt.store(1);
      return queue_errc::corrupt;
    }
    if (!is_data) { // a wrap record, or an abandoned one: skip it
      h->head.store(head + span, std::memory_order_release);
      lock.unlock(); // taken again: cheap, and keeps this loop simple
      wake_putters(h, ordered::by_locked_op);
      continue;
    }
    if (prefix.tag == staging_tag || prefix.tag == taking_tag) {
      // Its writer copies it in, or another getter copies it out, without the lock. Given up
      // (or given back) only once the kernel says that the copier died holding its slot.
      if (!copier_alive(h, cap, head)) {
        give_up_copy(h, cap, head, prefix.tag, true); // unless it finished meanwhile
        continue;                               // looked at again under the lock
      }
      if (past(until))
        return queue_errc::empty;
      auto seen = h->put_seq.load();
      lock.unlock();
      lease.unlock();
      // Spin for as long as a slow copy of its size takes (1 byte/ns), then sleep until a put
      // wakes us (its commit wakes every getter), or a short while: a writer that dies wakes
      // nobody. A closed ring still gets the commit.
      auto tag = tag_at(h, cap, head);
      auto busy = [&] { return h->head.load() == head && tag.load() == prefix.tag; };
      if (spin_for_change(tag, prefix.tag, until, std::chrono::nanoseconds{prefix.size}))
        continue;
      auto look_again = clock::now() + stager_check;
      wait_while(h, h->put_seq, seen, h->getters_waiting, busy,
                 until && *until < look_again ? *until : look_again, true);
      continue;
    }
    const std::byte* payload = payload_at(h, cap, head, prefix.tag);
    if (peek_position != nullptr) { // the record stays until pop(head)
      *peek_position = head;
      consume(context, payload, prefix.size);
      return std::nullopt;
    }
    if (prefix.tag == staged_tag) {
      if (auto slot = take_stage_slot(h, cap, true))
        return take_outside_lock(h, cap, lock, mutex_kind, head, span, prefix.size, *slot,
                                 consume, context);
    }
    auto finish = [&] {
      h->head.store(head + span, std::memory_order_release);
      h->got_count.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      wake_putters(h, ordered::by_locked_op);
    };
    try {
      consume(context, payload, prefix.size);
    } catch (...) {
      finish();
      throw;
    }
    finish();
    return std::nullopt;
  }
}

bool ring::wait_nonempty(const deadline& until) {
  auto* h = header_;
  for (;;) {
    auto seen = h->put_seq.load(std::memory_order_acquire);
    // Positions, not counts: a putter killed after its commit leaves put_count behind until
    // repaired.
    auto tail = h->tail.load(std::memory_order_acquire);
    if (tail != h->head.load(std::memory_order_acquire) || h->closed.load() || h->corrupt.load())
      return true;
    if (past(until))
      return false;
    if (spin_for_change(h->tail, tail, until))
      continue;
    wait_for_move(h, h->put_seq, seen, h->getters_waiting, h->tail, tail, until);
  }
}

bool ring::readable() const {
  auto* h = header_;
  return h->tail.load(std::memory_order_acquire) != h->head.load(std::memory_order_acquire)
         || h->closed.load() != 0 || h->corrupt.load() != 0;
}

ring::reader_words ring::words_for_readers() const {
  return {&header_->put_seq, &header_->getters_waiting};
}

void ring::close(const deadline& until) {
  auto* h = header_;
  const std::uint64_t cap = capacity_; // never the shared field: a scribble must not move us
  {
    // Under the lock, so that a put under way sees it and nothing is put after the close; with
    // `until`, closed without the lock once it passed (see ring.hpp).
    ring_lock lock{h, cap, until};
    h->closed.store(1);
    h->put_seq.fetch_add(1);
    h->get_seq.fetch_add(1);
  }
  futex_wake(h->put_seq);
  futex_wake(h->get_seq);
}

bool ring::empty() const {
  return header_->tail.load(std::memory_order_acquire)
         == header_->head.load(std::memory_order_acquire);
}

void ring::prepare_put() const {
  auto* h = header_;
  // Asks for the tail's line, which a put writes, while the caller still builds the record:
  // the reader has usually taken it to look, and a put that asks only at its store waits for
  // it in its unlock (a locked instruction, which drains the stores before it).
  __builtin_prefetch(&h->tail, 1);
}

bool ring::poll_nonempty() const {
  auto* h = header_;
  auto head = h->head.load(std::memory_order_relaxed);
  // The lines the next record goes to, fetched together with the tail's: when a record comes,
  // they arrive in one wait rather than one after the other. Three: a message with its sender's
  // name takes about 100 bytes, so it spans two lines or three (pingpong's round trip was 15%
  // shorter than with the first line alone, on a machine where a line took long to move). In a
  // mailbox, which lays records on whole lines, the third is the next message's first line;
  // leaving it out there changed neither counting nor pingpong (eight pairs each).
  __builtin_prefetch(data_of(h) + head % capacity_);
  __builtin_prefetch(data_of(h) + (head + 64) % capacity_);
  __builtin_prefetch(data_of(h) + (head + 128) % capacity_);
  return h->tail.load(std::memory_order_acquire) != head;
}

std::size_t ring::size() const {
  return static_cast<std::size_t>(held(header_));
}

std::size_t ring::capacity() const {
  return static_cast<std::size_t>(capacity_);
}

std::size_t ring::max_items() const {
  return static_cast<std::size_t>(header_->max_items);
}

bool ring::corrupt_now() const noexcept {
  auto* h = header_;
  if (h->line_records != line_records_)
    h->corrupt.store(1);
  return h->corrupt.load() != 0;
}

bool ring::closed() const {
  return header_->closed.load() != 0;
}

std::size_t ring::max_record() const {
  return static_cast<std::size_t>(capacity_ - sizeof(record_prefix));
}

std::uint64_t ring::unfinished() const {
  return header_->unfinished.load();
}

bool ring::task_done() {
  auto* h = header_;
  auto n = h->unfinished.load();
  do {
    if (n == 0)
      return false;
  } while (!h->unfinished.compare_exchange_weak(n, n - 1));
  if (n == 1) {
    h->done_seq.fetch_add(1);
    futex_wake(h->done_seq);
  }
  return true;
}

bool ring::join(const deadline& until) {
  auto* h = header_;
  for (;;) {
    auto seen = h->done_seq.load();
    if (h->unfinished.load() == 0)
      return true;
    if (past(until))
      return false;
    park(h->done_seq, seen, until);
  }
}

void ring::count_tasks(bool on) {
  header_->count_tasks = on ? 1 : 0;
}

segment_handle ring::handle() const {
  return segment_->handle();
}

} // namespace proctor::detail
