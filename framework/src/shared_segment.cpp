#include "proctor/shared_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proctor/shm_error.hpp"
#include "segment_name.hpp"
#include "unique_fd.hpp"

namespace proctor {

namespace {

constexpr const char* shm_dir = "/dev/shm";

[[noreturn]] void throw_errno(shm_errc code, const std::string& what, int err) {
  throw shm_error(code, "shared_segment: " + what + ": " + std::strerror(err));
}

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

/// `size` rounded up to whole pages, or 0 if that overflows.
std::size_t whole_pages(std::size_t size) noexcept {
  std::size_t page = page_size();
  if (size > SIZE_MAX - (page - 1))
    return 0;
  return (size + page - 1) / page * page;
}

/// Throws `no_space` unless /dev/shm has `bytes` free, so that a request that cannot be met is a
/// clear error here rather than a SIGBUS at some later page fault.
void check_free_space(std::size_t bytes) {
  struct statvfs fs{};
  if (::statvfs(shm_dir, &fs) != 0)
    throw_errno(shm_errc::system, std::string{"statvfs "} + shm_dir, errno);
  auto free_bytes = static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize;
  if (bytes > free_bytes)
    throw shm_error(shm_errc::no_space,
                    "shared_segment: cannot create a segment of " + std::to_string(bytes)
                      + " bytes: " + shm_dir + " has only " + std::to_string(free_bytes)
                      + " bytes free (ask for less, or make " + shm_dir + " larger)");
}

/// A new name, opened with O_CREAT | O_EXCL; retried on the (astronomically unlikely) collision.
std::pair<std::string, detail::unique_fd> create_unique(const detail::segment_run& run) {
  for (int attempt = 0;; ++attempt) {
    std::string name = detail::make_segment_name(run);
    detail::unique_fd fd{::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    if (fd)
      return {std::move(name), std::move(fd)};
    if (errno != EEXIST || attempt == 3)
      throw_errno(shm_errc::system, "shm_open " + name, errno);
  }
}

void* map(int fd, std::size_t bytes, const std::string& name) {
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    throw_errno(shm_errc::system, "mmap " + name, errno);
  return data;
}

} // namespace

shared_segment shared_segment::create(std::size_t size) {
  if (size == 0)
    throw shm_error(shm_errc::misuse, "shared_segment: a segment cannot be empty");
  std::size_t bytes = whole_pages(size);
  if (bytes == 0)
    throw shm_error(shm_errc::no_space,
                    "shared_segment: cannot create a segment of " + std::to_string(size) + " bytes");
  check_free_space(bytes);
  auto run = detail::current_run();
  auto [name, fd] = create_unique(run);
  try {
    // umask may have narrowed the mode: set it exactly, no more and no less than the owner's.
    if (::fchmod(fd.get(), 0600) != 0)
      throw_errno(shm_errc::system, "fchmod " + name, errno);
    // Sizes the segment and allocates every page now (tmpfs supports fallocate): ENOSPC here,
    // when another process took the space after the check, rather than SIGBUS later.
    if (int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes)); err != 0)
      throw_errno(err == ENOSPC ? shm_errc::no_space : shm_errc::system,
                  "allocating " + std::to_string(bytes) + " bytes for " + name, err);
    void* data = map(fd.get(), bytes, name);
    return shared_segment{std::move(name), data, size, static_cast<int>(run.pid)};
  } catch (...) {
    ::shm_unlink(name.c_str());
    throw;
  }
}

shared_segment shared_segment::open(const segment_handle& handle) {
  if (!detail::parse_segment_name(handle.name) || handle.size == 0)
    throw shm_error(shm_errc::invalid,
                    "shared_segment: '" + handle.name + "' does not name a proctor segment");
  detail::unique_fd fd{::shm_open(handle.name.c_str(), O_RDWR | O_CLOEXEC, 0)};
  if (!fd) {
    int err = errno;
    if (err == ENOENT)
      throw shm_error(shm_errc::not_found, "shared_segment: " + handle.name
                                             + " does not exist (its owner has removed it)");
    throw_errno(shm_errc::system, "shm_open " + handle.name, err);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0)
    throw_errno(shm_errc::system, "fstat " + handle.name, errno);
  if (static_cast<std::uint64_t>(st.st_size) < handle.size)
    throw shm_error(shm_errc::invalid, "shared_segment: " + handle.name + " holds "
                                         + std::to_string(st.st_size) + " bytes, not the "
                                         + std::to_string(handle.size) + " of its handle");
  auto size = static_cast<std::size_t>(handle.size);
  return shared_segment{handle.name, map(fd.get(), whole_pages(size), handle.name), size, 0};
}

shared_segment::shared_segment(shared_segment&& other) noexcept
  : name_(std::move(other.name_)),
    data_(std::exchange(other.data_, nullptr)),
    size_(std::exchange(other.size_, 0)),
    owner_pid_(other.owner_pid_.exchange(0, std::memory_order_relaxed)) {
  other.name_.clear();
}

shared_segment& shared_segment::operator=(shared_segment&& other) noexcept {
  if (this != &other) {
    reset();
    name_ = std::move(other.name_);
    other.name_.clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owner_pid_.store(other.owner_pid_.exchange(0, std::memory_order_relaxed),
                     std::memory_order_relaxed);
  }
  return *this;
}

shared_segment::~shared_segment() {
  reset();
}

void shared_segment::reset() noexcept {
  unlink();
  if (data_ != nullptr)
    ::munmap(data_, whole_pages(size_));
  data_ = nullptr;
  size_ = 0;
  name_.clear();
}

void shared_segment::unlink() noexcept {
  // Once: copies of the object held under different locks (a spawner's entry, its link to the
  // mailbox) may ask at the same time.
  int owner = owner_pid_.load(std::memory_order_relaxed);
  if (owner != 0 && owner == ::getpid()
      && owner_pid_.compare_exchange_strong(owner, 0, std::memory_order_relaxed))
    ::shm_unlink(name_.c_str());
}

bool shared_segment::owns_name() const noexcept {
  // A forked child holds a byte-for-byte copy of its parent's object: the pid tells them apart.
  int owner = owner_pid_.load(std::memory_order_relaxed);
  return owner != 0 && owner == ::getpid();
}

segment_handle shared_segment::handle() const {
  if (data_ == nullptr)
    throw shm_error(shm_errc::misuse, "shared_segment: handle() of an empty segment");
  return segment_handle{name_, size_};
}

} // namespace proctor

namespace proctor {

void shared_segment::dont_fork() const noexcept {
  if (data_ != nullptr)
    ::madvise(data_, size_, MADV_DONTFORK);
}

} // namespace proctor
