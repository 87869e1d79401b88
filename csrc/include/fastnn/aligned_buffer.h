// A grow-only, 64-byte aligned scratch buffer: kernels keep one per calling thread so that the hot
// loops never allocate.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

namespace fastnn {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(ptr_); }

  template <typename T>
  T* get(size_t count) {
    const size_t bytes = ((count * sizeof(T) + 63) / 64) * 64;
    if (bytes > size_) {
      std::free(ptr_);
      ptr_ = std::aligned_alloc(64, bytes);
      if (ptr_ == nullptr) {
        size_ = 0;
        throw std::bad_alloc();
      }
      size_ = bytes;
    }
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace fastnn
