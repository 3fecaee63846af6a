// Optimisers: update the parameters Theta from their gradients. All share
// one small interface: zero_grad() before a backward pass, step() after.
//
//   nn::GradientDescent opt(net.parameters(), /*learning_rate=*/0.1);
//   opt.zero_grad();  nn::mse_loss(net(X), Y).backward();  opt.step();
//
// This header gathers nn/optim/: the common part and parameter groups
// (optimizer.hpp), GradientDescent and SGD (sgd.hpp), Adam and AdamW
// (adam.hpp), RMSprop (rmsprop.hpp), learning-rate schedules (schedule.hpp)
// and gradient clipping (clip.hpp).
#pragma once

#include <nn/optim/adam.hpp>
#include <nn/optim/clip.hpp>
#include <nn/optim/optimizer.hpp>
#include <nn/optim/rmsprop.hpp>
#include <nn/optim/schedule.hpp>
#include <nn/optim/sgd.hpp>
