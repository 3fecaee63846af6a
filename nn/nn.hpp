// The nn layer: the mathematics of learning, executable, on top of autodiff.
// Backpropagation is not written here: it is autodiff's reverse sweep
// (nn::backprop_reference spells out the textbook recursion for comparison).
#pragma once

#include <nn/activation.hpp>
#include <nn/check_gradients.hpp>
#include <nn/data.hpp>
#include <nn/layer.hpp>
#include <nn/layers.hpp>
#include <nn/loss.hpp>
#include <nn/metrics.hpp>
#include <nn/module.hpp>
#include <nn/network.hpp>
#include <nn/optimizer.hpp>
#include <nn/perceptron.hpp>
#include <nn/reference.hpp>
#include <nn/sequential.hpp>
#include <nn/serialize.hpp>
#include <nn/state_file.hpp>
#include <nn/train.hpp>
