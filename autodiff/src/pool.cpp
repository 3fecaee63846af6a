// The per-thread small-object pool behind pool_allocate (tensor_tape.hpp).
#include <array>
#include <cstddef>
#include <new>

#include <autodiff/tensor_tape.hpp>

namespace ad::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool pooling = false;  // let the sanitizers see every allocation and free
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool pooling = false;
#else
constexpr bool pooling = true;
#endif
#else
constexpr bool pooling = true;
#endif

constexpr std::size_t granule = 16;
constexpr std::size_t classes = 32;  // blocks of 16, 32, ..., 512 bytes
constexpr std::size_t largest = granule * classes;
constexpr std::size_t max_cached = std::size_t(1) << 16;  // per class: a bound on what one thread hoards

struct FreeBlock {
  FreeBlock* next;
};

class Pool {
 public:
  ~Pool() {
    for (FreeBlock*& head : heads_)
      while (head != nullptr) {
        FreeBlock* next = head->next;
        ::operator delete(head);
        head = next;
      }
    alive_ = false;
  }
  static bool alive() noexcept { return alive_; }

  void* allocate(std::size_t c) {
    if (FreeBlock* b = heads_[c]) {
      heads_[c] = b->next;
      --counts_[c];
      return b;
    }
    return ::operator new((c + 1) * granule);
  }
  void deallocate(void* p, std::size_t c) noexcept {
    if (counts_[c] >= max_cached) {
      ::operator delete(p);
      return;
    }
    heads_[c] = new (p) FreeBlock{heads_[c]};
    ++counts_[c];
  }

 private:
  std::array<FreeBlock*, classes> heads_{};
  std::array<std::size_t, classes> counts_{};
  // Trivially destructible, so it still reads false after the pool is gone
  // (tensors freed by later thread_local destructors bypass the pool).
  static thread_local bool alive_;
};

thread_local bool Pool::alive_ = true;
thread_local Pool pool;

std::size_t size_class(std::size_t bytes) noexcept { return (bytes - 1) / granule; }

}  // namespace

void* pool_allocate(std::size_t bytes) {
  if (!pooling || bytes == 0 || bytes > largest || !Pool::alive()) return ::operator new(bytes);
  return pool.allocate(size_class(bytes));
}

void pool_deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (!pooling || bytes == 0 || bytes > largest || !Pool::alive()) {
    ::operator delete(p);
    return;
  }
  pool.deallocate(p, size_class(bytes));
}

}  // namespace ad::detail
