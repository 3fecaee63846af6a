// Internal: the memory a tensor op's records come from (implemented in
// pool.cpp). Not installed: users never see an allocation policy.
#pragma once

#include <cstddef>
#include <vector>

namespace ad::detail {

// Small-object recycling for the records every tensor op makes (its tensor
// storage, its node, its input list): a per-thread free list per size class,
// so that a training loop, which frees a step's graph and records the same
// shapes again, reuses blocks instead of going through malloc and free
// (docs/decisions/0007-tensor-op-overhead.md). Blocks over 512 bytes, and
// every block in sanitizer builds (so that use-after-free stays visible),
// go straight to operator new and delete.
void* pool_allocate(std::size_t bytes);
void pool_deallocate(void* p, std::size_t bytes) noexcept;

// Buffer recycling for tensor values and gradients: a training step frees
// its intermediate tensors and allocates the same sizes again in the next
// step; handing the freed vectors back (per thread, up to 256 MiB) avoids the
// allocator and, for large buffers, the page faults of memory the C library
// returned to the system in between. take_buffer gives a vector of n
// elements: zeros if `zeroed`, otherwise unspecified values the caller
// overwrites. recycle_buffer empties `v`, keeping its memory for reuse.
template <class T>
std::vector<T> take_buffer(std::size_t n, bool zeroed);
template <class T>
void recycle_buffer(std::vector<T>& v) noexcept;

template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(pool_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { pool_deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace ad::detail
