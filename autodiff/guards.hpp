// Scope guards that change how this thread records, for Vars and Tensors
// alike: NoGrad (record nothing) and DetectAnomaly (check every value and
// gradient for NaN and infinity, and say which op and source line made it).
//
//   { ad::NoGrad off;          /* evaluation: nothing is recorded */ }
//   { ad::DetectAnomaly check; /* every op checked; AnomalyError on the first NaN/Inf */ }
//
// Guards and tapes may end in any order, on any thread: whatever ends leaves
// the thread's recording state describing what is still alive.
#pragma once

#include <cstdint>
#include <stdexcept>

namespace ad {

namespace detail {
struct ThreadState;  // a thread's live tapes and guards (src/thread_state.hpp)
void refresh(ThreadState& s) noexcept;

// Live NoGrad scopes on this thread (tensor ops record only at 0).
extern constinit thread_local int no_grad_depth;
// Live DetectAnomaly scopes on this thread.
extern constinit thread_local int anomaly_depth;
}  // namespace detail

// Anomaly detection, for hunting NaN and Inf: while a DetectAnomaly scope
// lives, every value recorded on this thread's tapes and every adjoint of a
// sweep is checked, and the first NaN or infinity throws ad::AnomalyError
// naming the op, its inputs' values and the source line that recorded it
// (for named functions such as ad::log; operators cannot report a line).
// It costs nothing while off; while on, every op takes a slower checked path.
class DetectAnomaly {
 public:
  DetectAnomaly();
  ~DetectAnomaly();
  DetectAnomaly(const DetectAnomaly&) = delete;
  DetectAnomaly& operator=(const DetectAnomaly&) = delete;

 private:
  detail::ThreadState* owner_;  // the thread whose tapes it checks
};

// Thrown by anomaly detection.
class AnomalyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Inside a NoGrad scope nothing is recorded: Var operations produce
// constants and tensor ops produce tensors without history. (A Tape opened
// inside it records Vars again; tensor ops record nowhere while any NoGrad of
// the thread lives.) Ending it restores recording on the innermost tape still
// alive, whatever ended meanwhile.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  friend void detail::refresh(detail::ThreadState&) noexcept;
  detail::ThreadState* owner_;  // the thread it stops recording on
  NoGrad* older_ = nullptr;     // the thread's live NoGrads, newest first
  NoGrad* newer_ = nullptr;
  std::uint64_t opened_;
};

}  // namespace ad
