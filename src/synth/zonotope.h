#pragma once
// Zonotopes in double precision with rigorous outward widening (docs/synthesis.md eq. (25)-(27)):
// shared by the range analysis (values) and the affine error analysis of the certificate (errors).

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fxnn/floatnet/float_network.h"

namespace fxnn::synth::detail {

constexpr double kUnitRoundoff = 0x1p-53;                                // u of binary64
constexpr double kDenormMin = std::numeric_limits<double>::denorm_min(); // absolute error of an underflow

/// gamma_k = k u / (1 - k u): a sum of k rounded operations has relative error at most gamma_k (eq. (25)).
inline double gamma(int64_t k) {
  const double ku = static_cast<double>(k) * kUnitRoundoff;
  return ku / (1.0 - ku);
}

/// The widening of a bound computed by `ops` rounded operations whose terms sum to `magnitude` in
/// absolute value: twice the a priori bound, the factor 2 covering the rounding of this computation.
inline double pad(int64_t ops, double magnitude) {
  return 2.0 * gamma(ops) * magnitude + static_cast<double>(ops) * kDenormMin;
}

/// A zonotope c + G eps + diag(r) delta, eps and delta in [-1, 1]: G's columns are symbols shared
/// between neurons, r the radii of symbols private to one neuron (eq. (26)).
struct Zonotope {
  Eigen::VectorXd center;
  Eigen::MatrixXd generators;
  Eigen::VectorXd radius;

  /// Sound bounds of every neuron.
  void bounds(std::vector<double>& lo, std::vector<double>& hi) const {
    const Eigen::VectorXd rad = generators.cwiseAbs().rowwise().sum() + radius;
    const int64_t ops = generators.cols() + 2;
    lo.resize(static_cast<size_t>(center.size()));
    hi.resize(lo.size());
    for (Eigen::Index i = 0; i < center.size(); ++i) {
      const double p = pad(ops, std::fabs(center(i)) + rad(i));
      lo[static_cast<size_t>(i)] = center(i) - rad(i) - p;
      hi[static_cast<size_t>(i)] = center(i) + rad(i) + p;
    }
  }
};

inline Zonotope input_zonotope(const std::vector<double>& lo, const std::vector<double>& hi) {
  const Eigen::Index n = static_cast<Eigen::Index>(lo.size());
  Zonotope z{Eigen::VectorXd(n), Eigen::MatrixXd::Zero(n, n), Eigen::VectorXd::Zero(n)};
  for (Eigen::Index j = 0; j < n; ++j) {
    const double mid = lo[static_cast<size_t>(j)] / 2 + hi[static_cast<size_t>(j)] / 2;
    const double half = std::max(hi[static_cast<size_t>(j)] - mid, mid - lo[static_cast<size_t>(j)]);
    z.center(j) = mid;
    z.generators(j, j) = half > 0 ? half * (1 + 4 * kUnitRoundoff) + kDenormMin : 0.0; // covers [lo, hi]
  }
  return z;
}

/// The generators with every private radius turned into a shared symbol, appended in neuron order:
/// the same zonotope, written c + g eps. The affine map below numbers the new symbols this way.
inline Eigen::MatrixXd shared_generators(const Zonotope& in) {
  Eigen::Index extra = 0;
  for (Eigen::Index i = 0; i < in.radius.size(); ++i) extra += in.radius(i) > 0;
  Eigen::MatrixXd g(in.generators.rows(), in.generators.cols() + extra);
  g.leftCols(in.generators.cols()) = in.generators;
  g.rightCols(extra).setZero();
  for (Eigen::Index i = 0, k = in.generators.cols(); i < in.radius.size(); ++i)
    if (in.radius(i) > 0) g(i, k++) = in.radius(i);
  return g;
}

/// The affine map of a layer: private radii become shared symbols first (the map mixes neurons).
inline Zonotope affine(const Eigen::MatrixXd& weight, const Eigen::VectorXd& bias, const Zonotope& in) {
  const Eigen::MatrixXd g = shared_generators(in);
  Zonotope out;
  out.center = weight * in.center + bias;
  out.generators = weight * g;
  const Eigen::MatrixXd abs_w = weight.cwiseAbs();
  const Eigen::VectorXd mag = abs_w * in.center.cwiseAbs() + bias.cwiseAbs() + (abs_w * g.cwiseAbs()).rowwise().sum();
  const int64_t ops = weight.cols() + 2 + g.cols();
  out.radius.resize(weight.rows());
  for (Eigen::Index i = 0; i < weight.rows(); ++i) out.radius(i) = pad(ops, mag(i));
  return out;
}

/// Neuron i becomes lambda z_i + mu + t delta_new (a sound relaxation, eq. (27)), or a constant box.
inline void relax(Zonotope& z, Eigen::Index i, double lambda, double mu, double half) {
  z.center(i) = lambda * z.center(i) + mu;
  z.generators.row(i) *= lambda;
  z.radius(i) = lambda * z.radius(i) + half;
  const double mag = std::fabs(z.center(i)) + z.generators.row(i).cwiseAbs().sum() + z.radius(i);
  z.radius(i) += pad(4 + z.generators.cols(), mag);
}

/// Neuron i becomes the constant box [lo, hi] (no shared symbols).
inline void set_box(Zonotope& z, Eigen::Index i, double lo, double hi) {
  z.generators.row(i).setZero();
  z.center(i) = lo / 2 + hi / 2;
  const double half = std::max(hi - z.center(i), z.center(i) - lo);
  z.radius(i) = half > 0 ? half * (1 + 4 * kUnitRoundoff) + kDenormMin : 0.0;
}

/// Adds to neuron i an independent term anywhere in [lo, hi] (a fresh private symbol).
inline void add_interval(Zonotope& z, Eigen::Index i, double lo, double hi) {
  const double mid = lo / 2 + hi / 2;
  const double half = std::max(hi - mid, mid - lo);
  const double old = z.center(i);
  z.center(i) += mid;
  z.radius(i) += half + pad(4, std::fabs(old) + std::fabs(mid) + half + z.radius(i));
}

/// The activation of a real value (the bounds of a range map through it: it is monotone).
inline double activate_bound(const floatnet::DenseLayer& layer, double z) {
  switch (layer.activation) {
    case floatnet::Activation::kLinear: return z;
    case floatnet::Activation::kRelu: return std::max(z, 0.0);
    case floatnet::Activation::kClippedRelu: return std::min(std::max(z, 0.0), layer.clip);
  }
  return z;
}

/// DeepZ's ReLU transformer with pre-activation bounds [l, u] (eq. (27)); clipped ReLU falls back
/// to a constant box where the clip is reachable.
inline void activate_zonotope(const floatnet::DenseLayer& layer, const std::vector<double>& l,
                              const std::vector<double>& u, Zonotope& z) {
  if (layer.activation == floatnet::Activation::kLinear) return;
  for (Eigen::Index i = 0; i < z.center.size(); ++i) {
    const double lo = l[static_cast<size_t>(i)], hi = u[static_cast<size_t>(i)];
    if (hi <= 0) {
      set_box(z, i, 0.0, 0.0);
      continue;
    }
    const bool clipped = layer.activation == floatnet::Activation::kClippedRelu;
    if (clipped && lo >= layer.clip) {
      z.generators.row(i).setZero();
      z.center(i) = layer.clip;
      z.radius(i) = 0.0;
      continue;
    }
    if (clipped && hi > layer.clip) {
      set_box(z, i, activate_bound(layer, lo), layer.clip);
      continue;
    }
    if (lo >= 0) continue; // identity on [l, u]
    // relu(z) in [lambda z, lambda z + t] for z in [l, u], any lambda in [0, 1], with
    // t >= max(-lambda l, (1 - lambda) u); DeepZ's lambda = u / (u - l) minimizes the area.
    const double lambda = std::clamp(hi / (hi - lo), 0.0, 1.0);
    double t = std::max(-lambda * lo, (1.0 - lambda) * hi);
    t = t * (1 + 4 * kUnitRoundoff) + kDenormMin;
    relax(z, i, lambda, t / 2, t / 2);
  }
}

} // namespace fxnn::synth::detail
