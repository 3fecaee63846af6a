// The autodiff layer: reverse-mode automatic differentiation on a tape.
//
//   ad::Tape tape;                       // records on this thread while in scope
//   ad::Var x = 0.5, y = 2.0;            // scalar leaves
//   ad::Var f = ad::sin(x) * y;          // every operation is one tape node
//   auto g = ad::gradient(f, {x, y});    // one reverse sweep
//
//   ad::Tensor W = ad::Tensor::randn({16, 2}, rng).requires_grad(true);
//   ad::Tensor L = ad::mean(ad::square(ad::matmul(X, W.t())));
//   L.backward();                        // W.grad() = dL/dW
#pragma once

#include <autodiff/custom_op.hpp>
#include <autodiff/denormal.hpp>
#include <autodiff/format.hpp>
#include <autodiff/gemm.hpp>
#include <autodiff/guards.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/graph.hpp>
#include <autodiff/higher_order.hpp>
#include <autodiff/op_code.hpp>
#include <autodiff/parallel.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/scalar_reductions.hpp>
#include <autodiff/shape.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_format.hpp>
#include <autodiff/tensor_higher_order.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>
