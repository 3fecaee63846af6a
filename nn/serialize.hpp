// nn::save / nn::load: networks in a small, versioned binary file (.adnn).
//
// Format, version 1 (all integers and floats little-endian, IEEE 754):
//   "ADNN"                  4 bytes magic
//   u32 version             = 1
//   u8  dtype               0 = float32, 1 = float64 (the parameters' type)
//   u8[3] reserved          = 0
//   u32 depth               number of layers d >= 1
//   per layer L = 1 .. d:
//     u64 inputs, u64 outputs
//     u8  heaviside gradient policy (nn::HeavisideGradient)
//     u8[outputs]           activation of each neuron (nn::Activation)
//     W^L                   outputs * inputs values, row-major
//     b^L                   outputs values
//   u64 checksum            FNV-1a (64-bit) of every byte before it
//
// save() first checks the network against the rules load() applies (every
// layer 1 to 2^26 wide and chained, known activation codes and Heaviside
// policies) and throws std::invalid_argument "nn::save: not saving to
// '<path>': <problem>" without writing anything. It then writes a temporary
// file `<path>.tmp-<pid>-<n>` in the same folder, flushes it to disk and
// renames it over the target, so a crash mid-write leaves the previous file
// intact. A symbolic link is written through (the file it points to is
// replaced, the link stays); the replaced file's permission bits are kept (a
// new file gets 0644 less the umask); a path that is a directory or another
// non-regular file is refused; temporaries left by killed saves (whose
// process no longer exists) are removed.
//
// load() opens regular files only (a directory, FIFO or device throws
// "nn::load: '<path>' is a <kind>, not a regular file"), checks the 16-byte
// header before reading further and never reads past the file's size. It
// checks every field and throws std::runtime_error naming the file and what
// is wrong (missing, truncated, not an .adnn file, unsupported version,
// corrupt checksum, inconsistent layers).
#pragma once

#include <string>

#include <nn/network.hpp>

namespace nn {

template <class T>
void save(const NetworkT<T>& net, const std::string& path);

// Loads a network, converting the stored parameters to T if needed.
template <class T = double>
NetworkT<T> load(const std::string& path);

extern template void save(const NetworkT<float>&, const std::string&);
extern template void save(const NetworkT<double>&, const std::string&);
extern template NetworkT<float> load(const std::string&);
extern template NetworkT<double> load(const std::string&);

}  // namespace nn
