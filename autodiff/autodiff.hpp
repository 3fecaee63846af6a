// The autodiff layer: reverse-mode automatic differentiation on a tape.
//
//   ad::Tape tape;                       // records on this thread while in scope
//   ad::Var x = 0.5, y = 2.0;            // leaves
//   ad::Var f = ad::sin(x) * y;          // every operation is one tape node
//   auto g = ad::gradient(f, {x, y});    // one reverse sweep
#pragma once

#include <autodiff/format.hpp>
#include <autodiff/op_code.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/var.hpp>
