// Data-parallel training over MPI (the optional ad::distributed library):
// the environment, the Module wrapper, and gradients of summed objectives.
#pragma once

#include <dist/data_parallel.hpp>
#include <dist/environment.hpp>
#include <dist/gradient_sum.hpp>
