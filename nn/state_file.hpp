// Saving and loading any nn::Module as a named state: every parameter and
// buffer by its hierarchical name ("0.fc1.W"), with its element type and
// shape (PyTorch's state_dict, in one file).
//
//   nn::save(model, "model.adst");        // any Module
//   nn::load_into(model, "model.adst");   // into a model built the same way
//
// load_into checks the whole file against the model before it changes
// anything: every name of the model must be in the file and every name of
// the file in the model, as a parameter or a buffer as in the model, with
// the same shape; otherwise it throws std::runtime_error "nn::load_into:
// '<path>': the file does not fit the <Kind>: ..." listing each difference
// (missing from the file, not in the model, shape differs, parameter vs
// buffer) and leaves the model as it was. Element types convert: a float
// file loads into a double model exactly; a double file loads into a float
// model rounded to nearest, and a finite value too large for float is
// refused (naming the tensor) rather than turned into infinity. A state
// saved and loaded in the same type is bit-identical.
//
// A Network is saved in the .adnn network format (nn/serialize.hpp) instead,
// whatever the static type it is passed as, so that nn::load can rebuild it
// from the file alone; load_into reads both formats (an .adnn file holds
// "layer<L>.W" and "layer<L>.b"; loaded into a Network, the activations
// and Heaviside policies must match too).
//
// Format of a named-state file, version 1 (little-endian, IEEE 754):
//   "ADST"                  4 bytes magic
//   u32 version             = 1
//   u32 count               number of tensors (at most 2^20)
//   u32 reserved            = 0
//   per tensor, in named_parameters() then named_buffers() order:
//     u32 n, n bytes        name (1 to 4096 bytes, no control characters,
//                           no empty component between '.'s; unique)
//     u8  kind              0 = parameter, 1 = buffer
//     u8  dtype             0 = float32, 1 = float64
//     u8  rank              0 to 8
//     u64[rank]             dimensions
//     values                numel values, row-major
//   u64 checksum            FNV-1a (64-bit) of every byte before it
// Written atomically like .adnn files (temporary file, fsync, rename; a
// symbolic link is written through, the replaced file's mode kept). Read
// from regular files only ("<who>: '<path>' is a directory, not a regular
// file"), the 16-byte header before the rest, never past the file's size.
// Bad files throw std::runtime_error "<who>: '<path>': <problem>" (who is
// nn::load_into or nn::read_state): missing, truncated, wrong magic,
// unsupported version, corrupt checksum, bad name, shape or code, trailing
// bytes. nn::load given a named-state file says to use load_into.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/module.hpp>
#include <nn/serialize.hpp>

namespace nn {

enum class StateKind : std::uint8_t { parameter = 0, buffer = 1 };

template <class T>
struct StateEntry {
  std::string name;
  StateKind kind = StateKind::parameter;
  ad::TensorT<T> value;  // a constant tensor (no gradient), converted to T
};

// Writes every named parameter and buffer of `module` (a Network: the .adnn
// format). Throws std::invalid_argument "nn::save: not saving to '<path>':
// ..." without writing for a tensor that is empty (undefined) or a name
// that appears twice, and std::runtime_error when the file cannot be
// written.
template <class T>
void save(const ModuleT<T>& module, const std::string& path);

// Loads a saved state into `module` (see above).
template <class T>
void load_into(ModuleT<T>& module, const std::string& path);

// The tensors a state file (or an .adnn network file) holds, in file order,
// converted to T; for inspection and tools.
template <class T = double>
std::vector<StateEntry<T>> read_state(const std::string& path);

extern template void save(const ModuleT<float>&, const std::string&);
extern template void save(const ModuleT<double>&, const std::string&);
extern template void load_into(ModuleT<float>&, const std::string&);
extern template void load_into(ModuleT<double>&, const std::string&);
extern template std::vector<StateEntry<float>> read_state(const std::string&);
extern template std::vector<StateEntry<double>> read_state(const std::string&);

}  // namespace nn
