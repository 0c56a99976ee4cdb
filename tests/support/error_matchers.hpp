#pragma once

#include <catch2/catch.hpp>

#include <string>

#include <proctor/process_error.hpp>
#include <proctor/shm_error.hpp>

namespace proctor::test {

/// Matches a process_error with the given code: CHECK_THROWS_MATCHES(x, process_error, has_code(c)).
inline auto has_code(process_errc code) {
  return Catch::Predicate<process_error>([code](const process_error& e) { return e.code() == code; },
                                         "error code " + std::string{to_string(code)});
}

/// Matches a shm_error with the given code: CHECK_THROWS_MATCHES(x, shm_error, has_code(c)).
inline auto has_code(shm_errc code) {
  return Catch::Predicate<shm_error>([code](const shm_error& e) { return e.code() == code; },
                                     "error code " + std::string{to_string(code)});
}

} // namespace proctor::test
