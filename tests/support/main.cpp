// The main() of every proctor test executable.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <sys/prctl.h>

#include <proctor/init.hpp>

int main(int argc, char** argv) {
  proctor::init(argc, argv); // spawned children leave here and never see Catch
  // Orphans of processes a test kills come back to the test runner, which reaps them, rather than
  // to whatever init the machine runs.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  return Catch::Session().run(argc, argv);
}
