// The element-wise maths of vector_math.cpp, written once as branch-free
// scalar code that the loop vectoriser turns into SIMD code. Included once
// per instruction set, inside a namespace and under a target pragma (see
// vector_math.cpp), so it has no include guard and no includes of its own;
// the including namespace defines `constexpr bool has_fma` (whether a fused
// multiply-add is an instruction there, rather than a library call).
//
// Every function is a chain of arithmetic, bit operations and selects
// between values already computed (`select` below): no branch, no table, no
// call, so GCC if-converts and vectorises the whole body on SSE2, AVX2 and
// AVX-512 alike. NaN is never tested for: every clamp lets it through and it
// propagates through the arithmetic (a select `x == x ? y : x + x` would get
// its arithmetic sunk into a branch that, under the default -ftrapping-math,
// only AVX-512 masking can if-convert).
//
// exp: x = k ln2 + r with k = round(x / ln2) and |r| <= ln2/2 (Cody and Waite:
// ln2 split into a head with few enough bits that k * head is exact, and a
// tail), then e^x = 2^k e^r with e^r - 1 = r + r^2 q(r). q is the weighted
// minimax polynomial (Remez exchange, weight r^2 / |e^r - 1|, i.e. relative
// error of e^r - 1, on |r| <= 0.3475) of degree 5 for float (relative error
// 2^-28.7 after rounding the coefficients) and 10 for double (2^-60).
// tanh and logistic are quotients built from e^r - 1 and e^r; the last
// roundings before the division are carried along (`Pair`) and the quotient
// corrected once, which keeps every result within 1 ulp (measured worst:
// 0.80, tests/test_vector_math.cpp) where the plain formulas reach 2.6.

template <class T>
struct Format;

template <>
struct Format<float> {
  using Bits = std::uint32_t;
  static constexpr int mantissa_bits = 23;
  static constexpr Bits exponent_bias = 127;
  // Adding 1.5 * 2^23 rounds |v| < 2^22 to an integer, which then sits in
  // the low bits of the sum's representation.
  static constexpr float round_shifter = 0x1.8p23f;
  static constexpr float log2e = 0x1.715476p+0f;
  static constexpr float ln2_head = 0x1.62e4p-1f;  // 16 bits: k * ln2_head exact for |k| < 256
  static constexpr float ln2_tail = 0x1.7f7d1cp-20f;
  // e^x overflows above 88.73 and rounds to 0 below -103.98; clamping to
  // just beyond keeps k in [-150, 128] and still overflows / underflows.
  static constexpr float exp_low = -104.0f;
  static constexpr float exp_high = 89.0f;
  // tanh|x| rounds to 1 for |x| >= 9.02.
  static constexpr float tanh_saturation = 10.0f;
  static constexpr float veltkamp_split = 0x1p12f + 1.0f;  // splits 24 bits into 12 + 12

  // (e^r - 1 - r) / r^2
  static float q(float r) {
    float p = 0x1.a032dcp-13f;
    p = p * r + 0x1.6d73c0p-10f;
    p = p * r + 0x1.11118ap-7f;
    p = p * r + 0x1.5554b0p-5f;
    p = p * r + 0x1.555554p-3f;
    return p * r + 0x1.0p-1f;
  }
};

template <>
struct Format<double> {
  using Bits = std::uint64_t;
  static constexpr int mantissa_bits = 52;
  static constexpr Bits exponent_bias = 1023;
  static constexpr double round_shifter = 0x1.8p52;
  static constexpr double log2e = 0x1.71547652b82fep+0;
  static constexpr double ln2_head = 0x1.62e42fefa38p-1;  // 42 bits: k * ln2_head exact for |k| < 2^11
  static constexpr double ln2_tail = 0x1.ef35793c7673p-45;
  // e^x overflows above 709.79 and rounds to 0 below -745.14: k in [-1076, 1024].
  static constexpr double exp_low = -746.0;
  static constexpr double exp_high = 710.0;
  // tanh|x| rounds to 1 for |x| >= 19.07.
  static constexpr double tanh_saturation = 20.0;
  static constexpr double veltkamp_split = 0x1p27 + 1.0;  // splits 53 bits into 26 + 27

  static double q(double r) {
    double p = 0x1.1ee8840155040p-29;
    p = p * r + 0x1.af5fbef85881ep-26;
    p = p * r + 0x1.27e536c58fa0cp-22;
    p = p * r + 0x1.71ddf7d0a7765p-19;
    p = p * r + 0x1.a01a017b36e30p-16;
    p = p * r + 0x1.a01a01b01263ep-13;
    p = p * r + 0x1.6c16c16c1f335p-10;
    p = p * r + 0x1.111111110f64fp-7;
    p = p * r + 0x1.555555555553ep-5;
    p = p * r + 0x1.5555555555559p-3;
    return p * r + 0x1.0p-1;
  }
};

// c ? a : b as bit operations on the representations. Written as a plain
// select, a clamp such as `x < low ? low : x` invites GCC to specialise all
// the arithmetic after it for the constant arm (jump threading), which puts
// that arithmetic into branches the vectoriser cannot if-convert. The mask
// is itself a select of two floating-point constants: GCC 12 cannot
// vectorise a bool-to-64-bit-integer conversion with SSE2 alone.
template <class T>
inline T select(bool c, T a, T b) {
  using Bits = typename Format<T>::Bits;
  const Bits mask = std::bit_cast<Bits>(c ? std::bit_cast<T>(~Bits(0)) : T(0));
  return std::bit_cast<T>((std::bit_cast<Bits>(a) & mask) | (std::bit_cast<Bits>(b) & ~mask));
}

// A value carried as an unevaluated sum hi + lo, |lo| <= ulp(hi) / 2 or so:
// the rounding errors of the last steps, kept to correct the final result.
template <class T>
struct Pair {
  T hi, lo;
};

// a + b as a Pair, for |a| >= |b| or a = 0 (Dekker's Fast2Sum: exact).
template <class T>
inline Pair<T> fast_two_sum(T a, T b) {
  const T hi = a + b;
  return {hi, b - (hi - a)};
}

// n - q d, exactly when q is n / d rounded (the residual of a division).
// Without a fused multiply-add, q d is split exactly into two halves
// (Veltkamp's splitting and Dekker's product).
template <class T>
inline T division_residual(T n, T q, T d) {
  if constexpr (has_fma) {
    return std::fma(-q, d, n);
  } else {
    constexpr T split = Format<T>::veltkamp_split;
    const T qc = split * q, dc = split * d;
    const T q_hi = qc - (qc - q), d_hi = dc - (dc - d);
    const T q_lo = q - q_hi, d_lo = d - d_hi;
    const T p = q * d;
    const T p_err = ((q_hi * d_hi - p) + q_hi * d_lo + q_lo * d_hi) + q_lo * d_lo;
    return (n - p) - p_err;
  }
}

// (n.hi + n.lo) / (d.hi + d.lo) for d.hi in [1, 2], correctly rounded but
// for a small fraction of an ulp: q0 from the reciprocal of d.hi, then one
// Newton correction with the exact residual, q = q0 + (n - q0 d) / d.
template <class T>
inline T divide(Pair<T> n, Pair<T> d) {
  const T reciprocal = T(1) / d.hi;
  const T q0 = n.hi * reciprocal;
  const T residual = division_residual(n.hi, q0, d.hi) + n.lo - q0 * d.lo;
  return q0 + residual * reciprocal;
}

// x = k ln2 + r: k = round(x / ln2) as the two's-complement bit pattern of
// an unsigned integer (unsigned so that the shifts below are plain logical
// shifts, which SSE2 and AVX2 have for 64-bit lanes), r as a Pair.
template <class T>
struct Reduced {
  Pair<T> r;
  typename Format<T>::Bits k;
};

// Needs |x| / ln2 < 2^22 (float) or 2^51 (double).
template <class T>
inline Reduced<T> reduce(T x) {
  using F = Format<T>;
  const T shifted = x * F::log2e + F::round_shifter;
  const T k = shifted - F::round_shifter;
  const T head = x - k * F::ln2_head;  // exact
  return {fast_two_sum(head, -(k * F::ln2_tail)),
          std::bit_cast<typename F::Bits>(shifted) - std::bit_cast<typename F::Bits>(F::round_shifter)};
}

// 2^k for k in the normal exponent range [1 - bias, bias].
template <class T>
inline T pow2(typename Format<T>::Bits k) {
  using F = Format<T>;
  return std::bit_cast<T>((k + F::exponent_bias) << F::mantissa_bits);
}

// v 2^k for k in the clamped range of exp, as v 2^k1 2^k2 with
// k1 = floor(k / 2): both factors are normal numbers, v 2^k1 is exact, and
// the second product rounds once, to an infinity, a normal or a subnormal
// number. (floor(k / 2) = ((k + 2 bias + 2) >> 1) - bias - 1 with a logical
// shift.)
template <class T>
inline T scale_by_pow2(T v, typename Format<T>::Bits k) {
  using F = Format<T>;
  using Bits = typename F::Bits;
  constexpr Bits offset = 2 * F::exponent_bias + 2;
  const Bits k1 = ((k + offset) >> 1) - (offset >> 1);
  return v * pow2<T>(k1) * pow2<T>(k - k1);
}

// e^r - 1 for r = r.hi + r.lo, |r| <= 0.3475, as a Pair: r + r^2 q(r), the
// first term exact, plus r.lo e^r.
template <class T>
inline Pair<T> expm1_reduced(Pair<T> r) {
  const Pair<T> sum = fast_two_sum(r.hi, r.hi * r.hi * Format<T>::q(r.hi));
  return {sum.hi, sum.lo + r.lo * (T(1) + sum.hi)};
}

// e^r for the same r, as a Pair.
template <class T>
inline Pair<T> exp_reduced(Pair<T> r) {
  const Pair<T> m = expm1_reduced(r);
  const Pair<T> sum = fast_two_sum(T(1), m.hi);
  return {sum.hi, sum.lo + m.lo};
}

// Clamps x to [exp_low, exp_high], where e^x has overflowed or underflowed
// already. NaN passes (a comparison with NaN is false): its k is garbage, but
// r is NaN, and so is every result computed from it.
template <class T>
inline T clamp_exp_argument(T x) {
  using F = Format<T>;
  const T low = select(x < F::exp_low, F::exp_low, x);
  return select(low > F::exp_high, F::exp_high, low);
}

template <class T>
inline T exp_value(T x) {
  const Reduced<T> red = reduce(clamp_exp_argument(x));
  const Pair<T> er = exp_reduced(red.r);
  return scale_by_pow2(er.hi + er.lo, red.k);
}

// tanh x = sign(x) * -m / (2 + m), m = e^(-2|x|) - 1 in (-1, 0]: no
// cancellation anywhere, since m = 2^k (e^r - 1) + (2^k - 1) (k <= 0). m and 2 + m are carried as Pairs and
// the quotient corrected (divide), so that only e^r - 1's error remains.
template <class T>
inline T tanh_value(T x) {
  using F = Format<T>;
  using Bits = typename F::Bits;
  constexpr Bits sign_bit = Bits(1) << (sizeof(T) * 8 - 1);
  const Bits x_bits = std::bit_cast<Bits>(x);
  T magnitude = std::bit_cast<T>(x_bits & ~sign_bit);
  // tanh rounds to 1 beyond tanh_saturation, infinities included; NaN
  // passes the clamp and every step after it.
  magnitude = select(magnitude > F::tanh_saturation, F::tanh_saturation, magnitude);
  const Reduced<T> red = reduce(T(-2) * magnitude);  // k in [-58, 0]
  const T scale = pow2<T>(red.k);
  const Pair<T> em1 = expm1_reduced(red.r);
  // 2^k - 1 is inexact for k < -24 (float) or -53 (double): a Pair too.
  // Fast2Sum: |2^k - 1| >= 1/2 > |2^k (e^r - 1)| unless k = 0 (2^k - 1 = 0).
  const Pair<T> scale_minus_1 = fast_two_sum(T(-1), scale);
  const Pair<T> m0 = fast_two_sum(scale_minus_1.hi, scale * em1.hi);
  const Pair<T> m = {m0.hi, m0.lo + (scale_minus_1.lo + scale * em1.lo)};
  const Pair<T> d0 = fast_two_sum(T(2), m.hi);
  const T t = divide<T>({-m.hi, -m.lo}, {d0.hi, d0.lo + m.lo});
  // -m is >= 0 but may be -0; the sign of the result is that of x.
  return std::bit_cast<T>((std::bit_cast<Bits>(t) & ~sign_bit) | (x_bits & sign_bit));
}

// logistic x = 1 / (1 + e^-x) = e^x / (1 + e^x): with e = e^-|x| in (0, 1]
// the denominator 1 + e never overflows, and the numerator is 1 or e. e and
// 1 + e are carried as Pairs and the quotient corrected (divide).
template <class T>
inline T logistic_value(T x) {
  using F = Format<T>;
  using Bits = typename F::Bits;
  constexpr Bits sign_bit = Bits(1) << (sizeof(T) * 8 - 1);
  const T minus_magnitude = std::bit_cast<T>(std::bit_cast<Bits>(x) | sign_bit);  // NaN stays NaN
  const Reduced<T> red = reduce(clamp_exp_argument(minus_magnitude));
  const Pair<T> er = exp_reduced(red.r);
  const Pair<T> e = {scale_by_pow2(er.hi, red.k), scale_by_pow2(er.lo, red.k)};
  const Pair<T> d0 = fast_two_sum(T(1), e.hi);
  const bool positive = x >= T(0);
  return divide<T>({select(positive, T(1), e.hi), select(positive, T(0), e.lo)}, {d0.hi, d0.lo + e.lo});
}

// The ops as types, so that one driver serves them all.
struct ExpOp {
  template <class T>
  static T value(T x) {
    return exp_value(x);
  }
};
struct TanhOp {
  template <class T>
  static T value(T x) {
    return tanh_value(x);
  }
};
struct LogisticOp {
  template <class T>
  static T value(T x) {
    return logistic_value(x);
  }
};

// y[i] = Op(x[i]) in blocks of a fixed size (a loop of constant trip count,
// vectorised without a remainder); the last, partial block goes through the
// same code on a zero-padded copy, so element i's result never depends on n
// or on where the arrays start. Writing through a local block lets y alias x.
template <class Op, class T>
void map_blocks(const T* x, T* y, std::size_t n) {
  constexpr std::size_t block = 256 / sizeof(T);
  T out[block];
  std::size_t i = 0;
  for (; i + block <= n; i += block) {
    for (std::size_t j = 0; j < block; ++j) out[j] = Op::value(x[i + j]);
    std::memcpy(y + i, out, sizeof out);
  }
  if (i == n) return;
  T in[block] = {};
  std::memcpy(in, x + i, (n - i) * sizeof(T));
  for (std::size_t j = 0; j < block; ++j) out[j] = Op::value(in[j]);
  std::memcpy(y + i, out, (n - i) * sizeof(T));
}

template <class T>
void exp_array(const T* x, T* y, std::size_t n) {
  map_blocks<ExpOp>(x, y, n);
}
template <class T>
void tanh_array(const T* x, T* y, std::size_t n) {
  map_blocks<TanhOp>(x, y, n);
}
template <class T>
void logistic_array(const T* x, T* y, std::size_t n) {
  map_blocks<LogisticOp>(x, y, n);
}
