// nn::distributed::Environment: this process's place in an MPI job started by
// mpirun or srun, for as long as the object lives (MPI is initialised by the
// first Environment and finalised when it goes; one per process).
//
//   int main(int argc, char** argv) {
//     return nn::distributed::run(argc, argv, [](nn::distributed::Environment& env) {
//       fmt::print("rank {} of {}\n", env.rank(), env.size());
//       return 0;
//     });
//   }
//
// Failures end the whole job, quickly: MPI calls return errors (the
// communicator's handler is MPI_ERRORS_RETURN) that become exceptions naming
// the rank; an exception that leaves run() (or destroys an Environment while
// unwinding) calls MPI_Abort, which makes mpirun stop every other rank rather
// than leave them waiting in a collective for a partner that is gone; and a
// rank that dies (a signal, exit with a non-zero status) makes mpirun kill
// the rest and say which rank it was.
#pragma once

#include <functional>
#include <string_view>

#include <mpi.h>

namespace nn::distributed {

class Environment {
 public:
  // Initialises MPI (with MPI_THREAD_FUNNELED: only this thread calls MPI)
  // unless the program already did; a program started without mpirun is a
  // job of one process.
  Environment();
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  bool is_root() const noexcept { return rank_ == 0; }
  // The library's own communicator (a duplicate of MPI_COMM_WORLD, so that
  // the library's messages never meet the program's).
  MPI_Comm comm() const noexcept { return comm_; }

  void barrier() const;
  // Prints "rank r: message" to stderr and ends the whole job with `code`.
  [[noreturn]] void abort(int code, std::string_view message) const;

 private:
  void start(int* argc, char*** argv);
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
};

// Runs `body` with an Environment; returns its result. An exception from it
// is printed with the rank and ends the job (MPI_Abort) instead of leaving
// the other ranks waiting for this one.
int run(int argc, char** argv, const std::function<int(Environment&)>& body);

// Throws std::runtime_error naming `what`, the rank and MPI's message unless
// `code` is MPI_SUCCESS.
void check(int code, const char* what);

}  // namespace nn::distributed
