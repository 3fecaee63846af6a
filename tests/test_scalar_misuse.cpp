// Misuse of the scalar API is an error, not undefined behaviour: each case
// throws, and the message names the op or function and the problem.
#include <doctest/doctest.h>

#include <initializer_list>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

// `misuse()` throws `Exception` whose message contains every one of `parts`
// (the op or function, and the problem). doctest::Contains matches one
// substring, so each part is a CHECK_THROWS_WITH_AS of its own.
template <class Exception, class Misuse>
void check_misuse(Misuse misuse, std::initializer_list<const char*> parts) {
  for (const char* part : parts) CHECK_THROWS_WITH_AS(misuse(), doctest::Contains(part), Exception);
}

}  // namespace

// CHECK_MISUSE(expression, exception type, "part", ...): the expression is
// evaluated once per part; failures report the line of the call.
#define CHECK_MISUSE(expr, type, ...)                       \
  do {                                                      \
    INFO("misuse at line ", __LINE__, ": ", #expr);         \
    check_misuse<type>([&] { (void)(expr); }, {__VA_ARGS__}); \
  } while (false)

namespace {

// A Var whose tape has been destroyed.
ad::Var var_of_destroyed_tape(double value) {
  ad::Tape gone;
  const ad::Var x = value;
  return ad::exp(x);
}

}  // namespace

// ---- stale Vars: recorded before clear() ----------------------------------------------

TEST_CASE("an op on a Var recorded before clear() throws, naming the op and clear()") {
  ad::Tape tape;
  const ad::Var x = 2.0, y = 3.0;
  tape.clear();
  const ad::Var fresh = 1.0;
  CHECK_MISUSE(ad::sin(x), std::logic_error, "ad::sin", "clear()");
  CHECK_MISUSE(x * 2.0, std::logic_error, "ad::mul", "clear()");
  CHECK_MISUSE(2.0 - x, std::logic_error, "ad::sub", "clear()");
  CHECK_MISUSE(x / y, std::logic_error, "ad::div", "clear()");
  CHECK_MISUSE(ad::pow(fresh, x), std::logic_error, "ad::pow", "clear()");
  CHECK_MISUSE(-x, std::logic_error, "ad::neg", "clear()");
  ad::Var accumulator = fresh;
  CHECK_MISUSE(accumulator += x, std::logic_error, "ad::add", "clear()");
}

TEST_CASE("backward(), adjoint() and gradient() on a Var recorded before clear() throw as stale") {
  ad::Tape tape;
  const ad::Var x = 2.0;
  const ad::Var f = x * x;
  tape.clear();
  const ad::Var fresh = 1.0;
  CHECK_MISUSE(f.backward(), std::logic_error, "Var::backward", "stale");
  CHECK_MISUSE(x.adjoint(), std::logic_error, "Var::adjoint", "stale");
  CHECK_MISUSE(tape.backward(f), std::logic_error, "Tape::backward", "stale");
  CHECK_MISUSE(tape.adjoint(x), std::logic_error, "Tape::adjoint", "stale");
  // The stale output of gradient() ...
  CHECK_MISUSE(ad::gradient(f, {x}), std::logic_error, "ad::gradient", "stale");
  // ... and a stale input next to a fresh output.
  CHECK_MISUSE(ad::gradient(fresh * 2.0, {x}), std::logic_error, "ad::gradient", "stale");
}

// ---- Vars of destroyed tapes -----------------------------------------------------------

TEST_CASE("an op on a Var of a destroyed tape throws while another tape records") {
  const ad::Var dead = var_of_destroyed_tape(1.0);
  ad::Tape tape;
  CHECK_MISUSE(ad::tanh(dead), std::logic_error, "ad::tanh", "destroyed");
  CHECK_MISUSE(dead + 1.0, std::logic_error, "ad::add", "destroyed");
  CHECK_MISUSE(ad::hypot(3.0, dead), std::logic_error, "ad::hypot", "destroyed");
}

TEST_CASE("an op mixing a Var of a destroyed tape with a live Var throws, naming the op") {
  const ad::Var dead = var_of_destroyed_tape(1.0);
  ad::Tape tape;
  const ad::Var live = 2.0;
  CHECK_MISUSE(live * dead, std::logic_error, "ad::mul", "destroyed");
  CHECK_MISUSE(dead - live, std::logic_error, "ad::sub", "destroyed");
  CHECK_MISUSE(ad::max(live, dead), std::logic_error, "ad::max", "destroyed");
  CHECK_MISUSE(ad::atan2(dead, live), std::logic_error, "ad::atan2", "destroyed");
  CHECK(tape.size() == 1);  // nothing half-recorded
}

TEST_CASE("an op on a Var of a destroyed tape throws when no tape records at all") {
  const ad::Var dead = var_of_destroyed_tape(1.0);
  REQUIRE(ad::Tape::active() == nullptr);
  CHECK_MISUSE(ad::sin(dead), std::logic_error, "ad::sin", "destroyed");
  CHECK_MISUSE(dead * dead, std::logic_error, "ad::mul", "destroyed");
  CHECK_MISUSE(1.0 / dead, std::logic_error, "ad::div", "destroyed");
  CHECK_MISUSE(ad::min(dead, 0.0), std::logic_error, "ad::min", "destroyed");
}

TEST_CASE("an op on a stale Var throws inside NoGrad too") {
  ad::Tape tape;
  const ad::Var x = 2.0;
  const ad::Var dead = var_of_destroyed_tape(1.0);
  tape.clear();
  ad::NoGrad off;
  CHECK_MISUSE(ad::cos(x), std::logic_error, "ad::cos", "clear()");
  CHECK_MISUSE(x + x, std::logic_error, "ad::add", "clear()");
  CHECK_MISUSE(ad::exp(dead), std::logic_error, "ad::exp", "destroyed");
  CHECK_MISUSE(3.0 * dead, std::logic_error, "ad::mul", "destroyed");
}

TEST_CASE("backward() and adjoint() on a Var of a destroyed tape throw") {
  const ad::Var dead = var_of_destroyed_tape(1.0);
  CHECK_MISUSE(dead.backward(), std::logic_error, "Var::backward", "destroyed");
  CHECK_MISUSE(dead.adjoint(), std::logic_error, "Var::adjoint", "destroyed");
  ad::Tape tape;
  CHECK_MISUSE(tape.backward(dead), std::logic_error, "Tape::backward", "destroyed");
  CHECK_MISUSE(tape.adjoint(dead), std::logic_error, "Tape::adjoint", "destroyed");
}

TEST_CASE("an op on a Var of a tape live on another thread throws") {
  ad::Var foreign;
  std::latch recorded(1), checked(1);
  std::thread other([&] {
    ad::Tape theirs;
    foreign = ad::Var(4.0) * 2.0;
    recorded.count_down();
    checked.wait();  // keep their tape alive while this thread tries to use the Var
  });
  recorded.wait();
  {
    ad::Tape mine;
    const ad::Var x = 1.0;
    CHECK_MISUSE(x + foreign, std::logic_error, "ad::add", "not live on this thread");
    CHECK_MISUSE(ad::gradient(x * 2.0, {foreign}), std::logic_error, "ad::gradient");
  }
  CHECK_MISUSE(ad::sqrt(foreign), std::logic_error, "ad::sqrt", "not live on this thread");
  checked.count_down();
  other.join();
}

// ---- gradients across tapes --------------------------------------------------------------

TEST_CASE("gradient of an inner tape's output with respect to an outer tape's Var throws") {
  ad::Tape outer;
  const ad::Var x = 1.0;
  ad::Tape inner;
  const ad::Var z = 2.0;
  const ad::Var f = x * z;  // x reads as a constant here
  CHECK_MISUSE(ad::gradient(f, {z, x}), std::logic_error, "ad::gradient", "input 1", "another tape");
  CHECK_MISUSE(inner.adjoint(x), std::logic_error, "Tape::adjoint", "another tape");
}

TEST_CASE("gradient with respect to a Var of an earlier, destroyed tape throws") {
  const ad::Var earlier = var_of_destroyed_tape(0.5);
  ad::Tape later;
  const ad::Var y = 3.0;
  CHECK_MISUSE(ad::gradient(y * y, {y, earlier}), std::logic_error, "ad::gradient", "destroyed");
}

TEST_CASE("an inner tape's Var used in the outer tape after the inner tape died throws") {
  ad::Tape outer;
  const ad::Var x = 1.0;
  ad::Var escaped;
  {
    ad::Tape inner;
    escaped = ad::Var(2.0) * 3.0;
  }
  CHECK_MISUSE(x * escaped, std::logic_error, "ad::mul", "destroyed");
  CHECK_MISUSE(ad::gradient(x * 2.0, {escaped}), std::logic_error, "ad::gradient", "destroyed");
}

// ---- constants ---------------------------------------------------------------------------

TEST_CASE("backward() and adjoint() on a constant throw, saying it is a constant") {
  ad::Tape tape;
  const ad::Var constant;
  CHECK_MISUSE(constant.backward(), std::logic_error, "Var::backward", "constant");
  CHECK_MISUSE(constant.adjoint(), std::logic_error, "Var::adjoint", "constant");
  CHECK_MISUSE(tape.backward(constant), std::logic_error, "Tape::backward", "constant");
  CHECK_MISUSE(tape.adjoint(constant), std::logic_error, "Tape::adjoint", "constant");
  ad::Var computed;
  {
    ad::NoGrad off;
    computed = ad::Var(2.0) * 3.0;
  }
  CHECK_MISUSE(computed.backward(), std::logic_error, "Var::backward", "constant");
}

TEST_CASE("gradient with respect to a constant throws, naming the constant") {
  ad::Tape tape;
  const ad::Var x = 1.0;
  const ad::Var constant;
  CHECK_MISUSE(ad::gradient(x * x, {x, constant}), std::logic_error, "ad::gradient", "constant");
}

// ---- the output span ---------------------------------------------------------------------

TEST_CASE("gradient into an output span of the wrong size throws, giving both sizes") {
  ad::Tape tape;
  const ad::Var x = 1.0, y = 2.0, z = 3.0;
  const ad::Var f = x * y * z;
  const std::vector<ad::Var> inputs{x, y, z};
  std::vector<double> too_small(2, -1.0), too_large(4, -1.0);
  CHECK_MISUSE(ad::gradient(f, inputs, too_small), std::invalid_argument, "ad::gradient", "2 values for 3 inputs");
  CHECK_MISUSE(ad::gradient(f, inputs, too_large), std::invalid_argument, "ad::gradient", "4 values for 3 inputs");
  CHECK(too_small == std::vector<double>(2, -1.0));  // nothing written
}
