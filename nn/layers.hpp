// Every layer beyond Dense, one header each under nn/layers/ (each a Module):
//   conv.hpp        Conv2d
//   pool.hpp        MaxPool2d, AvgPool2d, AdaptiveAvgPool2d
//   norm.hpp        LayerNorm, BatchNorm1d, BatchNorm2d
//   dropout.hpp     Dropout
//   embedding.hpp   Embedding
//   shape.hpp       Flatten, Reshape
//   activation.hpp  ActivationLayer and its PyTorch-named forms (ReLU, Tanh, ...)
// Dense itself is nn/layer.hpp.
#pragma once

#include <nn/layers/activation.hpp>
#include <nn/layers/conv.hpp>
#include <nn/layers/dropout.hpp>
#include <nn/layers/embedding.hpp>
#include <nn/layers/norm.hpp>
#include <nn/layers/pool.hpp>
#include <nn/layers/shape.hpp>
