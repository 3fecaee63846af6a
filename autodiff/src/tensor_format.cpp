#include <autodiff/tensor_format.hpp>

namespace ad::detail {
namespace {

template <class T>
void render(std::string& s, const TensorT<T>& t, std::size_t axis, std::size_t offset, std::size_t edge) {
  const Shape& shape = t.shape();
  if (shape.rank() == 0) {
    s += fmt::format("{:.6g}", t.values()[0]);
    return;
  }
  const std::size_t extent = shape[axis];
  std::size_t block = 1;
  for (std::size_t a = axis + 1; a < shape.rank(); ++a) block *= shape[a];
  s += '[';
  const bool abbreviate = extent > 2 * edge;
  for (std::size_t i = 0; i < extent; ++i) {
    if (abbreviate && i == edge) {
      s += "..., ";
      i = extent - edge;
    }
    if (axis + 1 == shape.rank())
      s += fmt::format("{:.6g}", t.values()[offset + i]);
    else
      render(s, t, axis + 1, offset + i * block, edge);
    if (i + 1 < extent) s += ", ";
  }
  s += ']';
}

}  // namespace

template <class T>
std::string format_values(const TensorT<T>& t, std::size_t edge_items) {
  std::string s;
  render(s, t, 0, 0, edge_items);
  return s;
}

template std::string format_values(const TensorT<float>&, std::size_t);
template std::string format_values(const TensorT<double>&, std::size_t);

}  // namespace ad::detail
