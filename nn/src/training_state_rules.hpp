// Internal: what makes a training state unusable by nn::fit, shared by both
// checkpoint formats (checkpoint.cpp: networks; checkpoint_module.cpp: any
// Module). save_checkpoint refuses such a state and load_checkpoint such a file.
#pragma once

#include <string>

#include <nn/checkpoint.hpp>

namespace nn::detail {

// "" when the state is usable; otherwise what is wrong with it (the RNG text
// is not exactly a std::mt19937_64's, the sample order is not a permutation).
std::string training_state_problem(const TrainingState& state);

}  // namespace nn::detail
