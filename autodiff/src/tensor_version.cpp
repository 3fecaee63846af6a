// In-place writes after recording (SavedVersion in tensor_impl.hpp): what a
// node saves when it is recorded, and the error when a sweep finds that a
// saved tensor has been written since.
#include <stdexcept>

#include <fmt/format.h>

#include "tensor_tape.hpp"

namespace ad::detail {

void TensorNode::save_version_beyond_inline(const TensorImplBase& t) {
  for (const SavedVersion& s : saved_more)
    if (s.tensor == &t) return;
  saved_more.push_back({&t, t.version});
}

void TensorNode::throw_modified_in_place(const SavedVersion& s) const {
  const TensorImplBase& t = *s.tensor;
  throw std::logic_error(fmt::format(
      "ad::backward: {} {} was modified in place after {} ({}) saved it; its version is {}, "
      "expected {}: its gradient would be computed from the new values (write it after backward(), or give "
      "the op a clone())",
      t.name.empty() ? std::string("an unnamed tensor") : t.name, t.shape.to_string(), op,
      where.line() == 0 ? std::string("recorded by an operator, which has no source line")
                        : fmt::format("recorded at {}:{}", where.file_name(), where.line()),
      t.version, s.version));
}

}  // namespace ad::detail
