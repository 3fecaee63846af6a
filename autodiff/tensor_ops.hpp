// Operations on tensors: this header gathers the op families, each declared
// in the header named after it and implemented in the source of the same name
// under src/:
//
//   tensor_elementwise.hpp  the op table's maths functions element by element,
//                           + - * /, square, clamp, where
//   tensor_reduce.hpp       sum, mean, max, sum_squared_difference, logsumexp,
//                           softmax, log_softmax
//   tensor_shape_ops.hpp    reshape, transpose, rows, slice_rows, concat, stack
//   tensor_linalg.hpp       matmul, linear, linear_activation, dot
//   tensor_conv.hpp         conv2d
//   tensor_pool.hpp         max_pool2d, avg_pool2d, adaptive_avg_pool2d
//   tensor_indexing.hpp     slice, pad, flatten, index_select, gather, tril,
//                           triu, diag, diag_embed, cumsum (sources
//                           tensor_indexing*.cpp)
//   tensor_compare.hpp      < <= > >= == != giving masks of 1 and 0
//
// Where the derivatives are: element-wise ops take theirs from the scalar op
// table (scalar_ops.hpp), the single place where each maths function's value
// and derivative formula sit side by side; every other op's backward (and
// its recorded backward, for second derivatives) is written beside its
// forward in its source file.
#pragma once

#include <autodiff/tensor.hpp>
#include <autodiff/tensor_compare.hpp>
#include <autodiff/tensor_conv.hpp>
#include <autodiff/tensor_elementwise.hpp>
#include <autodiff/tensor_indexing.hpp>
#include <autodiff/tensor_linalg.hpp>
#include <autodiff/tensor_pool.hpp>
#include <autodiff/tensor_reduce.hpp>
#include <autodiff/tensor_shape_ops.hpp>
