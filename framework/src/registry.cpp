#include "proctor/registry.hpp"

#include <pthread.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "mailbox.hpp"
#include "proctor/detail/shared_object.hpp"
#include "proctor/shm_error.hpp"
#include "registry_table.hpp"
#include "segment_name.hpp"

namespace proctor {
namespace detail {

namespace {

constexpr std::size_t max_names = 1024;
constexpr std::size_t max_name = 55;
constexpr std::uint32_t registry_magic = 0x53474552; // "REGS"
constexpr const char* registry_env = "PROCTOR_NODE_REGISTRY";

/// The node's name table, in a segment the root creates and every descendant maps.
struct registry_segment {
  std::atomic<std::uint32_t> magic;
  std::uint32_t version;
  pthread_mutex_t mutex; ///< Robust, process-shared; guards the entries.
  struct entry {
    char name[max_name + 1];  ///< Empty: a free slot.
    std::uint64_t id;
    char cell[80];
  } entries[max_names];
};

constexpr std::size_t registry_size = sizeof(registry_segment);

struct local_registry {
  std::mutex mu;
  shared_object table;
};

local_registry& local() {
  static local_registry r; // in the root, its destructor unlinks the table's name at exit
  return r;
}

registry_segment* create_table(local_registry& r) {
  auto obj = shared_object::create(registry_size);
  auto* seg = static_cast<registry_segment*>(obj.get("registry"));
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&seg->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  seg->version = 1;
  obj.publish(registry_magic);
  ::setenv(registry_env, obj.handle("registry").name.c_str(), 1);
  r.table = std::move(obj);
  return seg;
}

/// The node's table: inherited (environment) or, if `create`, made now (this process becomes a
/// root). nullptr if there is none and `create` is false.
registry_segment* table(bool create = true) {
  auto& r = local();
  std::lock_guard guard{r.mu};
  if (r.table)
    return static_cast<registry_segment*>(r.table.get("registry"));
  if (const char* name = ::getenv(registry_env); name != nullptr && *name != '\0') {
    try {
      r.table = shared_object::open(segment_handle{name, registry_size}, registry_size,
                                    registry_magic, "registry");
      return static_cast<registry_segment*>(r.table.get("registry"));
    } catch (const shm_error& e) {
      // The root is gone (or this is a new program that inherited the variable). A table this
      // process merely cannot map now (out of descriptors) is not replaced by a node of its own.
      if (e.code() == shm_errc::system)
        throw;
    }
  }
  return create ? create_table(r) : nullptr;
}

class table_lock {
 public:
  explicit table_lock(registry_segment* t) : t_(t) {
    int rc = pthread_mutex_lock(&t_->mutex);
    if (rc == EOWNERDEAD) // a process died mid-update: every entry is written whole or unused
      pthread_mutex_consistent(&t_->mutex);
    else if (rc != 0)
      throw std::runtime_error("proctor: the name registry's lock failed");
  }
  ~table_lock() { pthread_mutex_unlock(&t_->mutex); }

 private:
  registry_segment* t_;
};

bool alive(const actor_ref& ref) {
  // Not known to have ended counts as alive: a name is never taken from an actor that this
  // process merely cannot see (out of file descriptors).
  std::string trouble;
  auto link = link_of(ref, &trouble);
  if (!link)
    return !trouble.empty();
  auto& cell = link->cell();
  if (has_ended(cell))
    return false;
  return !run_ended(cell.pid.load(), cell.start_time.load());
}

actor_ref ref_of(const registry_segment::entry& e) {
  return make_ref(e.id, field_string(e.cell));
}

void check_name(std::string_view name) {
  if (name.empty() || name.size() > max_name)
    throw std::invalid_argument("proctor: a registered name has 1 to 55 bytes, not "
                                + std::to_string(name.size()));
}

} // namespace

void forget_names_of(std::uint64_t id) noexcept {
  try {
    auto* t = table(false); // at exit the root may have removed it already: never make one here
    if (t == nullptr)
      return;
    table_lock lock{t};
    for (auto& e : t->entries)
      if (e.name[0] != '\0' && e.id == id)
        e.name[0] = '\0';
  } catch (...) {
  }
}

void ensure_node_registry() noexcept {
  // init() in a program of its own (not a spawned child): a new node, even if the environment
  // names the registry of the program that started this one.
  try {
    auto& r = local();
    std::lock_guard guard{r.mu};
    if (!r.table)
      (void)create_table(r);
  } catch (...) {
  }
}

} // namespace detail

bool register_name(std::string_view name, const actor_ref& ref) {
  detail::check_name(name);
  if (!ref)
    throw std::invalid_argument("proctor: register_name of an empty actor_ref");
  auto* t = detail::table();
  detail::table_lock lock{t};
  detail::registry_segment::entry* free_slot = nullptr;
  for (auto& e : t->entries) {
    if (e.name[0] == '\0') {
      if (!free_slot)
        free_slot = &e;
      continue;
    }
    if (detail::field_string(e.name) != name)
      continue;
    if (e.id == ref.id())
      return true; // already its name (a restarted supervised actor registers again)
    if (detail::alive(detail::ref_of(e)))
      return false;
    e.name[0] = '\0'; // its actor ended without unregistering
    if (!free_slot)
      free_slot = &e;
  }
  if (!free_slot)
    return false;
  free_slot->id = ref.id();
  detail::set_field(free_slot->cell, ref.data()->cell_name);
  detail::set_field(free_slot->name, name);
  return true;
}

bool unregister_name(std::string_view name) {
  detail::check_name(name);
  auto* t = detail::table(false);
  if (t == nullptr)
    return false;
  detail::table_lock lock{t};
  for (auto& e : t->entries)
    if (e.name[0] != '\0' && detail::field_string(e.name) == name) {
      e.name[0] = '\0';
      return true;
    }
  return false;
}

actor_ref whereis(std::string_view name) {
  detail::check_name(name);
  auto* t = detail::table(false);
  if (t == nullptr)
    return {};
  actor_ref found;
  {
    detail::table_lock lock{t};
    for (auto& e : t->entries)
      if (e.name[0] != '\0' && detail::field_string(e.name) == name) {
        found = detail::ref_of(e);
        break;
      }
  }
  return found && detail::alive(found) ? found : actor_ref{};
}

} // namespace proctor
