// nn::distributed::gradient_of_sum (gradient_sum.hpp).
#include <span>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <autodiff/gradient_hooks.hpp>
#include <dist/gradient_sum.hpp>

namespace nn::distributed {

ValueAndGradient<double> gradient_of_sum(const Environment& env, const ad::Var& f,
                                         std::span<const ad::Var> xs) {
  // One message: the value first, then the gradient.
  std::vector<double> both(xs.size() + 1);
  both[0] = f.value();
  ad::gradient(f, xs, std::span<double>(both).subspan(1));
  check(MPI_Allreduce(MPI_IN_PLACE, both.data(), int(both.size()), MPI_DOUBLE, MPI_SUM, env.comm()),
        "MPI_Allreduce");
  return {both[0], std::vector<double>(both.begin() + 1, both.end())};
}

template <class T>
TensorValueAndGradient<T> gradient_of_sum(const Environment& env, const ad::TensorT<T>& f,
                                          const std::vector<ad::TensorT<T>>& xs) {
  if (f.numel() != 1)
    throw std::invalid_argument("nn::distributed::gradient_of_sum: the objective must be one value");
  // This sweep's share of each leaf's gradient, taken (and zeroed in the
  // sweep's buffer, so that the leaf keeps what it had) as the sweep makes it
  // final; leaves no op used stay zero.
  std::unordered_map<const void*, std::size_t> offset;
  std::size_t total = 1;
  for (const auto& x : xs) {
    if (!x.requires_grad_enabled())
      throw std::invalid_argument("nn::distributed::gradient_of_sum: every x must require a gradient");
    offset.emplace(ad::GradientReadyHook::key(x), total);
    total += x.numel();
  }
  std::vector<T> buffer(total, T(0));
  buffer[0] = f.item();
  {
    auto take = [&](const void* leaf, std::span<T> g) {
      const auto it = offset.find(leaf);
      if (it == offset.end()) return;
      for (std::size_t k = 0; k < g.size(); ++k) {
        buffer[it->second + k] += g[k];
        g[k] = T(0);
      }
    };
    ad::GradientReadyHook::Handlers handlers;
    if constexpr (std::is_same_v<T, float>)
      handlers.ready_f32 = take;
    else
      handlers.ready_f64 = take;
    ad::GradientReadyHook hook(std::move(handlers));
    ad::TensorT<T>(f).backward();
  }
  check(MPI_Allreduce(MPI_IN_PLACE, buffer.data(), int(buffer.size()),
                      std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM, env.comm()),
        "MPI_Allreduce");
  TensorValueAndGradient<T> out{buffer[0], {}};
  for (const auto& x : xs) {
    const std::size_t at = offset.at(ad::GradientReadyHook::key(x));
    out.gradient.push_back(
        ad::TensorT<T>::from(x.shape(), std::vector<T>(buffer.begin() + std::ptrdiff_t(at),
                                                       buffer.begin() + std::ptrdiff_t(at + x.numel()))));
  }
  return out;
}

template TensorValueAndGradient<float> gradient_of_sum(const Environment&, const ad::TensorT<float>&,
                                                       const std::vector<ad::TensorT<float>>&);
template TensorValueAndGradient<double> gradient_of_sum(const Environment&, const ad::TensorT<double>&,
                                                        const std::vector<ad::TensorT<double>>&);

}  // namespace nn::distributed
