// nn checkpoints: everything nn::fit needs to continue a training run as if
// it had never stopped (the parameters, the optimiser's memory, the shuffling
// RNG and sample order, the epoch, the loss history and the early-stopping
// counters), in one versioned, checksummed file (.adck).
//
//   nn::fit(net, X, Y, nn::mse_loss, opt, {.max_epochs = 500, .checkpoint_path = "run.adck",
//                                           .checkpoint_every = 10, .resume = true});
//
// Killed at any moment, a run restarted with the same arguments and
// `resume = true` reaches a bit-identical result to an uninterrupted run.
//
// Format, version 2 (little-endian, IEEE 754; "str" is u32 length + bytes):
//   "ADCK"                      4 bytes magic
//   u32 version                 = 2 (version 1, without the activations, is still read)
//   u8  dtype                   0 = float32, 1 = float64 (the parameters' type)
//   u8[3] reserved              = 0
//   u32 depth d, u64 sizes[d+1] the network's n_0 .. n_d (checked on load)
//   per layer L = 1 .. d:       u8 Heaviside gradient policy, u8 activation[n_L]
//                               (checked on load: resuming into a network
//                               with other activations is refused)
//   u64 P, T theta[P]           the parameters, in NetworkT::flat_parameters() order
//   str optimiser kind, f64 learning rate, u64 steps,
//   u32 buffer count, per buffer: u64 length, f64 values[length]
//   u64 epochs completed
//   str RNG state               std::mt19937_64 in its standard text form
//   u64 n, u64 order[n]         the training-sample order (shuffled in place every epoch)
//   f64 best monitored loss, u64 epochs without improvement
//   u64 n, f64 loss[n]; u64 m, f64 validation_loss[m]
//   str stop reason             "" while running
//   u64 checksum                FNV-1a (64-bit) of every byte before it
//
// Writing is atomic: a temporary file in the same folder is written, flushed
// to disk (fsync), renamed over the target and the folder flushed, so the
// path always holds either the previous checkpoint or the new one, whole
// (through a symbolic link, keeping the file's mode, as nn::save does).
// save_checkpoint first refuses, with std::invalid_argument
// "nn::save_checkpoint: not saving to '<path>': <problem>", what loading
// would refuse: a network nn::save refuses, an RNG state that is not exactly
// a std::mt19937_64's text form, a sample order that is not a permutation of
// 0 .. n-1.
// Loading opens regular files only, reads the header before the rest and
// never past the file's size, checks every field and throws
// std::runtime_error naming the file and the problem (missing, not a regular
// file, truncated, not a checkpoint, unsupported version, corrupt checksum,
// a network, its activations or an optimiser that does not match, an RNG
// state or sample order as above).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nn/module.hpp>
#include <nn/network.hpp>
#include <nn/optim/schedule.hpp>
#include <nn/optimizer.hpp>

namespace nn {

// The training loop's own state, beside the network and optimiser.
struct TrainingState {
  std::uint64_t epoch = 0;           // epochs completed
  std::string rng;                   // the shuffling RNG (std::mt19937_64 text form)
  std::vector<std::uint64_t> order;  // the sample order
  double best = 0.0;                 // best monitored loss so far
  std::uint64_t epochs_without_improvement = 0;
  std::vector<double> loss;
  std::vector<double> validation_loss;
  std::string stop_reason;  // empty while the run goes on
  // Since version 3 (any module; nn::fit's staples):
  std::vector<double> accuracy;                                  // training accuracy per epoch (with labels)
  std::vector<double> validation_accuracy;                       // validation accuracy per epoch
  double first_loss = std::numeric_limits<double>::quiet_NaN();  // the divergence scale (NaN: none yet)
  double best_loss = std::numeric_limits<double>::infinity();    // lowest monitored loss (restore_best)
  std::uint64_t best_epoch = 0;                                  // its epoch, 1-based (0: none)
  std::vector<std::vector<double>> best_parameters;              // its parameters (restore_best), in
                                                                 // named_parameters() order
  // Since version 4: the learning-rate schedule nn::fit drives, if any.
  std::optional<ScheduleState> schedule = std::nullopt;
};

template <class T>
void save_checkpoint(const std::string& path, const NetworkT<T>& net, const Optimizer<T>& optimizer,
                     const TrainingState& state);

// Restores `net`'s parameters and `optimizer`'s state from the file (they
// must have the sizes and kind it was saved with) and returns the rest.
template <class T>
TrainingState load_checkpoint(const std::string& path, NetworkT<T>& net, Optimizer<T>& optimizer);

extern template void save_checkpoint(const std::string&, const NetworkT<float>&, const Optimizer<float>&,
                                     const TrainingState&);
extern template void save_checkpoint(const std::string&, const NetworkT<double>&, const Optimizer<double>&,
                                     const TrainingState&);
extern template TrainingState load_checkpoint(const std::string&, NetworkT<float>&, Optimizer<float>&);
extern template TrainingState load_checkpoint(const std::string&, NetworkT<double>&, Optimizer<double>&);

// Any module (what nn::fit writes), format version 3: the header as above,
// then instead of the network's sizes and parameters the model by name:
//   u32 count; per tensor: str name ("0.fc1.W"), u8 kind (0 parameter,
//   1 buffer), u32 rank, u64 dims[rank], T values[numel]
// then the optimiser and training state as above, then the version-3 fields
// of TrainingState (u64 n, f64 accuracy[n]; u64 m, f64 validation_accuracy[m];
// f64 first_loss, f64 best_loss, u64 best_epoch; u32 count, per tensor u64 n,
// f64 values[n]), then the checksum. Loading checks every name and shape
// against the module and names the first that differs; a version 1 or 2 file
// loads into an nn::Network as before.
//
// Version 4 (what nn::fit writes now) adds what resuming needs to be exact:
//   after the reserved header bytes: str architecture (ModuleT::architecture;
//     compared on load, after the tensors' names and shapes: a model with
//     other activations is refused, naming the first differing part)
//   after the optimiser's buffers: u64 n, f64 other_group_learning_rates[n];
//     u64 m, u64 parameter_steps[m]   (OptimizerState)
//   before the checksum: u8 has_schedule; if 1: str kind, u64 steps,
//     u64 n, f64 base_learning_rates[n], f64 best, u64 bad_steps,
//     u64 cooldown_left   (ScheduleState)
// Version 3 files still load (their groups all take group 0's rate, every
// SGD velocity counts as started, no schedule).
template <class T>
void save_checkpoint(const std::string& path, const ModuleT<T>& model, const Optimizer<T>& optimizer,
                     const TrainingState& state);
template <class T>
TrainingState load_checkpoint(const std::string& path, ModuleT<T>& model, Optimizer<T>& optimizer);

extern template void save_checkpoint(const std::string&, const ModuleT<float>&, const Optimizer<float>&,
                                     const TrainingState&);
extern template void save_checkpoint(const std::string&, const ModuleT<double>&, const Optimizer<double>&,
                                     const TrainingState&);
extern template TrainingState load_checkpoint(const std::string&, ModuleT<float>&, Optimizer<float>&);
extern template TrainingState load_checkpoint(const std::string&, ModuleT<double>&, Optimizer<double>&);

}  // namespace nn
