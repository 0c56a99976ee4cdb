#include "mailbox.hpp"

#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "proctor/shm_error.hpp"
#include "proctor/spawn.hpp"
#include "futex.hpp"
#include "per_process.hpp"
#include "unique_fd.hpp"

namespace proctor::detail {

namespace {

std::atomic<int>& bell_fd() noexcept {
  static std::atomic<int> fd{-1};
  return fd;
}

/// One unbound datagram socket per process for ringing doorbells (a forked child shares it),
/// made on first use.
int bell_sender() noexcept {
  int fd = bell_fd().load(std::memory_order_acquire);
  if (fd >= 0)
    return fd;
  int made = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (made < 0)
    return -1;
  if (!bell_fd().compare_exchange_strong(fd, made, std::memory_order_acq_rel)) {
    ::close(made); // another thread made one first
    return fd;
  }
  return made;
}

struct link_table {
  std::mutex mu;
  /// Each entry holds its link (mailbox_link::let_go()); refs that cache one hold it too.
  std::unordered_map<std::string, mailbox_link*> by_name;
  std::size_t added_since_sweep = 0;

  /// In a forked child (see per_process()): the parent's own mailboxes become links of the
  /// child's, if their mapping is one the child has (kept_in_forks(): an own mailbox first mapped
  /// as another actor's is not). A child usually answers the process that started it first, and
  /// need not map that mailbox a second time. Skipped if another thread of the parent held the
  /// parent's table at the fork: the copy may be half-changed.
  void inherit(link_table& parent) noexcept {
    if (!parent.mu.try_lock())
      return;
    try {
      for (const auto& [name, link] : parent.by_name) {
        if (!link->pinned() || !link->kept_in_forks() || link->released()
            || by_name.contains(name))
          continue;
        auto shared = link->share(this);
        by_name.emplace(name, shared.get());
        shared.release(); // held by the table now
      }
    } catch (const std::exception&) { // out of memory: mapped by name at the first use instead
    }
    parent.mu.unlock();
  }
};

/// How often the table looks for mailboxes to unmap: every this many new links. A mailbox goes at
/// the first look after the one that saw its actor ended (and once no use of it is under way),
/// so that whoever asks for its exit reason or name a moment later still finds them (a monitor
/// holds its target's link: its DOWN always has the reason).
constexpr std::size_t sweep_every = 16;

/// Unmaps the mailboxes of actors that ended a while ago, and forgets them (refs that cache a
/// link keep the object, which answers noproc). Called under the table's mutex.
void sweep(link_table& table) {
  for (auto it = table.by_name.begin(); it != table.by_name.end();) {
    auto* link = it->second;
    if (!link->released()) {
      if (link->pinned()
          || link->cell().state.load(std::memory_order_acquire) != cell_exited) {
        link->seen_ended = false;
        ++it;
        continue;
      }
      if (!link->seen_ended) {
        link->seen_ended = true;
        ++it;
        continue;
      }
      link->release();
    }
    if (!link->try_unmap()) { // a use is under way: the next sweep looks again
      ++it;
      continue;
    }
    it = table.by_name.erase(it);
    mailbox_link::let_go(link);
  }
}

actor_cell& tombstone_cell() {
  static actor_cell* cell = [] {
    auto* c = new actor_cell{};
    c->state.store(cell_exited);
    c->exit_kind = static_cast<std::uint32_t>(exit_kind::noproc);
    return c;
  }();
  return *cell;
}

/// This process's table. A forked child starts with an empty one: the parent's links name
/// mappings the child does not have (MADV_DONTFORK), and are left alone.
link_table& links() {
  auto* table = per_process<link_table>();
  if (table == nullptr)
    throw std::bad_alloc{};
  return *table;
}

/// True if `link` is in this process's table: a ref copied by a fork may cache its parent's.
bool mapped_here(const mailbox_link* link) noexcept {
  return link->home() == per_process<link_table>();
}

/// `inherited`: the caller's own mailbox, whose cell and ring it may have mapped already
/// (`own_cell`, `own_ring`).
std::unique_ptr<mailbox_link> open_link(const link_table& table, std::uint64_t id,
                                        const std::string& cell_name, bool inherited,
                                        shared_object own_cell, ring own_ring) {
  bool cell_given = static_cast<bool>(own_cell);
  auto cell_obj = own_cell ? std::move(own_cell)
                           : shared_object::open(segment_handle{cell_name, cell_segment_size},
                                                 cell_segment_size, cell_magic, "actor mailbox");
  auto& cell = *static_cast<actor_cell*>(cell_obj.get("actor mailbox"));
  if (cell.id != id)
    return nullptr;
  auto ring_name = field_string(cell.ring_name);
  auto messages = cell_given && own_ring.valid() && own_ring.handle().name == ring_name
                    ? std::move(own_ring)
                    : ring::open(segment_handle{ring_name, cell.ring_size}, mailbox_type_tag);
  if (!inherited) { // a forked child maps again what it uses
    cell_obj.dont_fork();
    messages.dont_fork();
  }
  return std::make_unique<mailbox_link>(std::move(cell_obj), std::move(messages), id, &table,
                                        inherited);
}

} // namespace

void forget_bell_sender() noexcept {
  bell_fd().store(-1, std::memory_order_release);
}

bell_address bell_of(std::uint64_t id, std::int32_t pid) noexcept {
  bell_address b;
  b.addr.sun_family = AF_UNIX;
  char name[64];
  int n = std::snprintf(name, sizeof name, "proctor-bell-%016llx-%d",
                        static_cast<unsigned long long>(id), static_cast<int>(pid));
  // Abstract namespace: a leading NUL, no file, gone with the socket.
  b.addr.sun_path[0] = '\0';
  std::memcpy(b.addr.sun_path + 1, name, static_cast<std::size_t>(n));
  b.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<std::size_t>(n));
  return b;
}

std::uint64_t random_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    if (::getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id))
      id = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())
           ^ (static_cast<std::uint64_t>(::getpid()) << 32);
  }
  return id;
}

namespace {

/// Notes in `trouble` (if given) why this process could not map a mailbox.
void note_trouble(std::string* trouble, const char* what) noexcept {
  if (trouble == nullptr)
    return;
  try {
    *trouble = what;
  } catch (...) {
    *trouble = "out of memory"; // short enough for the string's own buffer: no allocation
  }
}

/// Enters a new link into the table, which holds it from then on; now and then first unmaps the
/// mailboxes of actors that ended (sweep()). Under the table's mutex. Throws bad_alloc (the link
/// is then deleted).
std::unordered_map<std::string, mailbox_link*>::iterator
add_link(link_table& table, const std::string& cell_name, std::unique_ptr<mailbox_link> link) {
  if (++table.added_since_sweep >= sweep_every) {
    table.added_since_sweep = 0;
    sweep(table);
  }
  auto it = table.by_name.emplace(cell_name, link.get()).first;
  link.release();
  return it;
}

/// The link of `data` in this process, opened if need be, with a use of it begun; nullptr for
/// noproc, or for a mailbox this process cannot map (`trouble` says why, see link_of()).
/// `own`: the caller's own mailbox (pinned, kept in forked children).
mailbox_link* find_link(ref_data& data, bool own, shared_object own_cell = {}, ring own_ring = {},
                        std::string* trouble = nullptr) noexcept {
  link_table* table_ptr = nullptr;
  try {
    table_ptr = &links();
  } catch (const std::exception& e) {
    note_trouble(trouble, e.what());
    return nullptr;
  }
  auto& table = *table_ptr;
  std::lock_guard guard{table.mu};
  auto it = table.by_name.find(data.cell_name);
  if (it == table.by_name.end()) {
    std::unique_ptr<mailbox_link> link;
    try {
      link = open_link(table, data.id, data.cell_name, own, std::move(own_cell),
                       std::move(own_ring));
    } catch (const shm_error& e) {
      // Gone (not_found), or not a mailbox (invalid): noproc. A system call that failed
      // (EMFILE, ENOMEM...) says nothing about the actor.
      if (e.code() == shm_errc::system)
        note_trouble(trouble, e.what());
      return nullptr;
    } catch (const std::exception& e) {
      note_trouble(trouble, e.what());
      return nullptr;
    }
    if (!link)
      return nullptr;
    try {
      it = add_link(table, data.cell_name, std::move(link));
    } catch (const std::exception& e) {
      note_trouble(trouble, e.what());
      return nullptr;
    }
  }
  auto* link = it->second;
  if (link->cell().id != data.id || !link->use())
    return nullptr; // another mailbox under that name, or ended a while ago: noproc
  if (own)
    link->pin();
  // Cached in the ref, which holds it from then on: written only here, under the table's mutex.
  // The parent's link (in a forked child) is not this process's to let go.
  auto* cached = data.link.load(std::memory_order_relaxed);
  if (cached == nullptr || !mapped_here(cached)) {
    link->hold();
    data.link.store(link, std::memory_order_release);
  }
  return link;
}

} // namespace

void unpin_own_link(mailbox_link* link) noexcept {
  if (link == nullptr || !mapped_here(link))
    return;
  try {
    auto& table = links();
    std::lock_guard guard{table.mu};
    link->pin(false);
  } catch (const std::exception&) {
  }
}

ref_data::~ref_data() {
  auto* cached = link.load(std::memory_order_acquire);
  if (cached != nullptr && mapped_here(cached))
    mailbox_link::let_go(cached);
}

link_use link_of(const actor_ref& ref, std::string* trouble) noexcept {
  auto* data = ref.data().get();
  if (data == nullptr)
    return {};
  if (auto* cached = data->link.load(std::memory_order_acquire);
      cached != nullptr && mapped_here(cached))
    return cached->use() ? link_use{cached} : link_use{};
  return link_use{find_link(*data, false, {}, {}, trouble)};
}

mailbox_link* own_link(const actor_ref& ref, shared_object own_cell, ring own_ring) noexcept {
  auto* data = ref.data().get();
  if (data == nullptr)
    return nullptr;
  auto* link = find_link(*data, true, std::move(own_cell), std::move(own_ring));
  if (link != nullptr)
    link->unuse(); // pinned: mapped for good
  return link;
}

actor_ref make_ref(std::uint64_t id, std::string cell_name) {
  auto d = std::make_shared<ref_data>();
  d->id = id;
  d->cell_name = std::move(cell_name);
  return actor_ref{std::move(d)};
}

void mailbox_link::ring_bell() noexcept {
  auto* cell_ = this->cell_.load(std::memory_order_acquire);
  // The sleeper stores its mode, fences, then looks at the ring; the put that comes before this
  // ended with a full barrier after its commit (ring.cpp, wake_getter()), which pairs with it.
  if (cell_->sleeping.load(std::memory_order_seq_cst) == awake)
    return;
  auto mode = cell_->sleeping.exchange(awake, std::memory_order_seq_cst);
  if (mode == awake)
    return; // somebody else rang
  if (mode == sleeping_on_futex) {
    futex_wake(cell_->sleeping, 1);
    return;
  }
  char one = 1;
  // The pid was written before the actor could sleep: it names the process that waits now.
  auto bell = bell_of(id_, cell_->pid.load(std::memory_order_acquire));
  // A full socket buffer means the actor has doorbells waiting already: nothing is lost.
  (void)::sendto(bell_sender(), &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&bell.addr), bell.len);
}

namespace {

/// The parts of one mailbox record: the envelope (held by the caller), the sender's cell name,
/// the payload.
struct record_parts {
  envelope env;
  std::array<ring::piece, 3> pieces;

  record_parts(std::uint64_t type_id, std::uint32_t flags, std::uint64_t request_id,
               const ref_data* sender, std::string_view payload) {
    std::size_t sender_len = sender ? sender->cell_name.size() : 0;
    if (sender_len > 0xffff) // no cell name is that long: sent as anonymous rather than cut
      sender_len = 0;
    env = envelope{type_id, request_id, sender_len ? sender->id : 0, flags,
                   static_cast<std::uint16_t>(sender_len), 0};
    pieces = {ring::piece{&env, sizeof env},
              ring::piece{sender ? sender->cell_name.data() : nullptr, sender_len},
              ring::piece{payload.data(), payload.size()}};
  }
  record_parts(const record_parts&) = delete; // the first piece points into it
  record_parts& operator=(const record_parts&) = delete;

  [[nodiscard]] std::size_t size() const {
    return pieces[0].size + pieces[1].size + pieces[2].size;
  }
};

} // namespace

void write_record(std::vector<char>& out, std::uint64_t type_id, std::uint32_t flags,
                  std::uint64_t request_id, const ref_data* sender, std::string_view payload) {
  record_parts parts{type_id, flags, request_id, sender, payload};
  out.resize(parts.size());
  ring::copy_pieces(out.data(), parts.pieces.data(), parts.pieces.size());
}

void mailbox_link::release() noexcept {
  released_.store(true, std::memory_order_seq_cst); // pairs with use()
}

bool mailbox_link::try_unmap() noexcept {
  if (users_.load(std::memory_order_seq_cst) != 0)
    return false;
  cell_.store(&tombstone_cell(), std::memory_order_release);
  messages_ = ring{};
  cell_obj_ = shared_object{};
  return true;
}

std::optional<actor_error> mailbox_link::put(std::uint64_t type_id, std::uint32_t flags,
                                             std::uint64_t request_id, const ref_data* sender,
                                             std::string_view payload, bool never_block) {
  auto* cell_ = this->cell_.load(std::memory_order_acquire);
  if (released() || cell_->state.load(std::memory_order_acquire) == cell_exited)
    return actor_error{actor_errc::noproc, "the actor has ended", {}};
  // Copied straight from its parts into the ring.
  record_parts record{type_id, flags, request_id, sender, payload};
  std::size_t sender_len = record.pieces[1].size;

  auto policy = static_cast<mailbox_overflow>(cell_->overflow);
  // First without waiting (and without reading the clock); a full mailbox under the block
  // policy is tried again with the receiver's block timeout.
  auto err = messages_.put(record.pieces.data(), record.pieces.size(),
                           std::chrono::steady_clock::time_point{});
  if (err && *err == queue_errc::full && policy == mailbox_overflow::block && !never_block)
    err = messages_.put(record.pieces.data(), record.pieces.size(),
                        std::chrono::steady_clock::now()
                          + std::chrono::milliseconds{cell_->block_timeout_ms});
  if (!err) {
    ring_bell();
    return std::nullopt;
  }
  switch (*err) {
    case queue_errc::full:
      if (policy == mailbox_overflow::drop) {
        cell_->dropped.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
      }
      return actor_error{actor_errc::mailbox_full, "the receiver's mailbox is full", {}};
    case queue_errc::too_large:
      return actor_error{actor_errc::too_large,
                         "a message of " + std::to_string(payload.size())
                           + " bytes does not fit the receiver's mailbox (at most "
                           + std::to_string(messages_.max_record() - sizeof(envelope) - sender_len)
                           + ")",
                         {}};
    case queue_errc::closed:
      return actor_error{actor_errc::noproc, "the actor has ended", {}};
    default:
      return actor_error{actor_errc::noproc,
                         std::string{"the receiver's mailbox is unusable: "} + std::string{to_string(*err)}, {}};
  }
}

mailbox_owner create_mailbox(const spawn_options& opts) {
  auto id = random_id();
  auto messages = ring::create(opts.mailbox_bytes, opts.mailbox_messages, mailbox_type_tag,
                               false, true); // whole cache lines per message: see ring::create()
  auto cell_obj = shared_object::create(cell_segment_size);
  auto& cell = *static_cast<actor_cell*>(cell_obj.get("actor mailbox"));
  cell.version = cell_version;
  cell.id = id;
  auto h = messages.handle();
  set_field(cell.ring_name, h.name);
  cell.ring_size = h.size;
  set_field(cell.name, opts.name);
  cell.overflow = static_cast<std::uint32_t>(opts.overflow);
  auto ms = opts.block_timeout.count();
  cell.block_timeout_ms = ms < 0 ? 0u : static_cast<std::uint32_t>(ms > 0x7fffffff ? 0x7fffffff : ms);
  cell.state.store(cell_starting, std::memory_order_relaxed);
  cell.stderr_fd = -1;
  cell_obj.publish(cell_magic);
  auto ref = make_ref(id, cell_obj.handle("actor mailbox").name);
  return {std::move(cell_obj), std::move(messages), std::move(ref)};
}

void adopt_link(const mailbox_owner& box, bool kept_in_forks) noexcept {
  try {
    auto* data = box.ref.data().get();
    auto& table = links();
    std::lock_guard guard{table.mu};
    if (data == nullptr || table.by_name.contains(data->cell_name))
      return;
    // Copies of the owner's objects: the mapping goes once both the entry and the link let go
    // of it; the names go with the owner's entry (it unlinks them itself).
    add_link(table, data->cell_name,
             std::make_unique<mailbox_link>(box.cell_obj, box.messages, data->id, &table,
                                            kept_in_forks));
  } catch (const std::exception&) { // mapped by name at its first use instead
  }
}

exit_reason current_reason(const actor_cell& cell);

bool restartable(const actor_cell& cell) noexcept {
  return cell.supervised != 0 && cell.state.load(std::memory_order_acquire) != cell_exited;
}

bool has_ended(const actor_cell& cell) noexcept {
  auto st = cell.state.load(std::memory_order_acquire);
  return st == cell_exited || st == cell_down;
}

namespace {

exit_reason reason_of(std::uint32_t kind, std::int32_t code, const char (&detail)[200]) {
  exit_reason r;
  r.kind = kind <= static_cast<std::uint32_t>(exit_kind::user) ? static_cast<exit_kind>(kind)
                                                                : exit_kind::user;
  r.code = code;
  r.detail = field_string(detail);
  return r;
}

} // namespace

exit_reason recorded_reason(const actor_cell& cell, std::optional<std::uint32_t> incarnation) {
  if (incarnation && cell.incarnation.load(std::memory_order_acquire) != *incarnation)
    return reason_of(cell.prev_exit_kind, cell.prev_exit_code, cell.prev_exit_detail);
  auto r = current_reason(cell);
  // A supervisor may have restarted the actor while we read: then the previous exit is ours.
  if (incarnation && cell.incarnation.load(std::memory_order_acquire) != *incarnation)
    return reason_of(cell.prev_exit_kind, cell.prev_exit_code, cell.prev_exit_detail);
  return r;
}

exit_reason current_reason(const actor_cell& cell) {
  if (has_ended(cell))
    return reason_of(cell.exit_kind, cell.exit_code, cell.exit_detail);
  if (cell.kill_requested.load(std::memory_order_acquire) != 0)
    return {exit_kind::killed, 9, false, "killed by an exit signal `kill`"};
  if (auto sig = cell.fatal_signal.load(std::memory_order_acquire); sig != 0)
    return {exit_kind::signal, static_cast<std::int32_t>(sig), false, {}};
  return {exit_kind::signal, 9, false,
          "ended without a word: SIGKILL (perhaps the OOM killer) or _exit"};
}

} // namespace proctor::detail
