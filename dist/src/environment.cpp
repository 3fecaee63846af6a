// nn::distributed::Environment (environment.hpp).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <dist/environment.hpp>

namespace nn::distributed {

namespace {
int world_rank() noexcept {
  int initialised = 0, finalised = 0, rank = -1;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
}  // namespace

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(fmt::format("nn::distributed: {} failed on rank {}: {}", what, world_rank(),
                                       std::string(text, std::size_t(length))));
}

Environment::Environment() { start(nullptr, nullptr); }
Environment::Environment(int& argc, char**& argv) { start(&argc, &argv); }

void Environment::start(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw std::runtime_error("nn::distributed::Environment: MPI_Init_thread failed");
    owns_mpi_ = true;
  }
  // Errors come back as codes (exceptions here) rather than killing the
  // process with MPI's default message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Environment::~Environment() {
  // Unwinding an exception: the other ranks may be waiting in a collective
  // for this one, and MPI_Finalize would wait for them. End the job instead.
  if (std::uncaught_exceptions() > 0) MPI_Abort(MPI_COMM_WORLD, 1);
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (owns_mpi_ && !finalised) MPI_Finalize();
}

void Environment::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

void Environment::abort(int code, std::string_view message) const {
  std::fprintf(stderr, "rank %d: %.*s\n", rank_, int(message.size()), message.data());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; this is for the compiler
}

int run(int argc, char** argv, const std::function<int(Environment&)>& body) {
  Environment env(argc, argv);
  try {
    return body(env);
  } catch (const std::exception& e) {
    env.abort(1, fmt::format("error: {}", e.what()));
  } catch (...) {
    env.abort(1, "error: an unknown exception");
  }
}

}  // namespace nn::distributed
