#pragma once

#include <vector>

#include <proctor/process.hpp>

namespace samples {

/// The sample's exit status: 0 if every child ended with exitcode 0, else 1, after naming each
/// child that did not on stderr. Joins the children first (a no-op for the ones already joined),
/// so that a child's failure makes the sample, and scripts/demo, fail too.
[[nodiscard]] int children_status(std::vector<proctor::process> children);

} // namespace samples
