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
// save() writes a temporary file in the same folder, flushes it to disk and
// renames it over the target, so a crash mid-write leaves the previous file
// intact. load() checks every field and throws std::runtime_error naming the
// file and what is wrong (missing, truncated, not an .adnn file, unsupported
// version, corrupt checksum, inconsistent layers).
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
