#pragma once

#include <pthread.h>

#include <new>

namespace proctor::detail {

/// The one T of this process, made on first use; nullptr if there was no memory for it.
///
/// A forked child starts with a new T (a pthread_atfork handler). The parent's object is left as
/// it is and never destroyed: it may name mappings, descriptors or locks the child does not have,
/// and tearing it down could hit the child's own at the same addresses. So its address is never
/// reused either: an object that records the T it belongs to can tell whether that T is this
/// process's. A T with a member `inherit(T& parent) noexcept` may take over what it knows the
/// child does have: it is called on the new object with the parent's, in the child.
template <class T>
T* per_process() noexcept {
  static T* current = [] {
    ::pthread_atfork(nullptr, nullptr, [] {
      T* parent = current;
      current = new (std::nothrow) T;
      if constexpr (requires(T& t) { t.inherit(t); }) {
        if (current != nullptr && parent != nullptr)
          current->inherit(*parent);
      }
    });
    return new (std::nothrow) T;
  }();
  return current;
}

} // namespace proctor::detail
