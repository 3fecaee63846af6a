// The doctest main of the MPI tests: every rank runs the same test cases in
// the same order (they are collective), inside one nn::distributed
// Environment. A rank whose checks fail exits non-zero, and mpirun with it.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "mpi_world.hpp"

namespace {
nn::distributed::Environment* current = nullptr;
}

nn::distributed::Environment& world() { return *current; }

int main(int argc, char** argv) {
  return nn::distributed::run(argc, argv, [&](nn::distributed::Environment& env) {
    current = &env;
    doctest::Context context(argc, argv);
    // Only rank 0 prints the summary; every rank prints its failures.
    if (!env.is_root()) context.setOption("no-version", true);
    const int failed = context.run();
    current = nullptr;
    return failed;
  });
}
