// Flushing subnormal floating-point numbers to zero, as PyTorch's
// torch.set_flush_denormal does.
//
// Arithmetic on subnormal numbers (|x| < 1.2e-38 in float, 2.2e-308 in
// double) takes a slow path on most x86 processors, often 10-100x slower per
// operation. Training can drift into them (tiny gradients and Adam moments
// late in a run): a Fashion-MNIST epoch here slows from 0.71 s to 0.99 s over
// three epochs, and stays at 0.71 s with flushing, reaching the same accuracy.
//
//   ad::set_flush_denormal(true);   // this thread (and the matmul workers it uses)
//
// Opt-in, because it changes results: subnormal inputs read as zero and
// subnormal results become zero (x86 SSE: the FTZ and DAZ bits). It applies
// to the calling thread; the library's matmul worker threads compute each
// product in the mode of the thread that asked for it.
#pragma once

namespace ad {

// Turns flushing on or off for the calling thread. Returns false (changing
// nothing) where the processor has no such mode.
bool set_flush_denormal(bool on) noexcept;
// Whether flushing is on for the calling thread.
bool flush_denormal() noexcept;

}  // namespace ad
