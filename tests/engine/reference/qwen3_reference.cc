#include "tests/engine/reference/qwen3_reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace pagoda::testing {
namespace {

double decode_bf16(std::uint16_t b) {
  std::uint32_t x = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

double decode_f16(std::uint16_t h) {
  int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v = exp == 0 ? std::ldexp(mant, -24) : exp == 31 ? INFINITY : std::ldexp(1024 + mant, exp - 25);
  return sign ? -v : v;
}

// y[o] = sum_i W[o][i] x[i], W is [out, in].
std::vector<double> matvec(const std::vector<double>& w, const std::vector<double>& x, std::size_t out) {
  std::size_t in = x.size();
  std::vector<double> y(out, 0.0);
  for (std::size_t o = 0; o < out; ++o) {
    double s = 0;
    for (std::size_t i = 0; i < in; ++i)
      s += w[o * in + i] * x[i];
    y[o] = s;
  }
  return y;
}

std::vector<double> rms_norm(const std::vector<double>& x, const double* w, double eps, std::size_t off = 0,
                             std::size_t n = 0) {
  if (n == 0) n = x.size();
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i)
    ss += x[off + i] * x[off + i];
  double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i)
    y[i] = x[off + i] * inv * w[i];
  return y;
}

}  // namespace

Qwen3Reference::Matrix Qwen3Reference::load(const Checkpoint& ckpt, const std::string& name) const {
  const TensorView* t = ckpt.find(name);
  if (t == nullptr) throw std::runtime_error("reference: missing " + name);
  Matrix m(static_cast<std::size_t>(t->num_elements()));
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (t->dtype == DType::kF32) {
      float f;
      std::memcpy(&f, t->bytes.data() + 4 * i, 4);
      m[i] = f;
    } else {
      std::uint16_t b;
      std::memcpy(&b, t->bytes.data() + 2 * i, 2);
      m[i] = t->dtype == DType::kBF16 ? decode_bf16(b) : decode_f16(b);
    }
  }
  return m;
}

Qwen3Reference::Qwen3Reference(const ModelConfig& config, const Checkpoint& ckpt) : c_(config) {
  embed_ = load(ckpt, "model.embed_tokens.weight");
  lm_head_ = c_.tie_word_embeddings ? embed_ : load(ckpt, "lm_head.weight");
  final_norm_ = load(ckpt, "model.norm.weight");
  for (int i = 0; i < c_.num_hidden_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    layers_.push_back({load(ckpt, p + "input_layernorm.weight"),
                       load(ckpt, p + "post_attention_layernorm.weight"),
                       load(ckpt, p + "self_attn.q_norm.weight"), load(ckpt, p + "self_attn.k_norm.weight"),
                       load(ckpt, p + "self_attn.q_proj.weight"), load(ckpt, p + "self_attn.k_proj.weight"),
                       load(ckpt, p + "self_attn.v_proj.weight"), load(ckpt, p + "self_attn.o_proj.weight"),
                       load(ckpt, p + "mlp.gate_proj.weight"), load(ckpt, p + "mlp.up_proj.weight"),
                       load(ckpt, p + "mlp.down_proj.weight")});
  }
  // RoPE: inv_freq = theta^(-2i/d); YaRN as transformers' _compute_yarn_parameters.
  const int d = c_.head_dim;
  for (int i = 0; i < d / 2; ++i)
    inv_freq_.push_back(std::pow(c_.rope_theta, -2.0 * i / d));
  if (c_.rope_scaling.type == RopeScaling::Type::kLinear) {
    for (double& f : inv_freq_)
      f /= c_.rope_scaling.factor;
  } else if (c_.rope_scaling.type == RopeScaling::Type::kYarn) {
    const auto& y = c_.rope_scaling;
    auto corr = [&](double rot) {
      return d * std::log(static_cast<double>(y.original_max_position_embeddings) / (rot * 2 * M_PI)) /
             (2 * std::log(c_.rope_theta));
    };
    double lo = std::max(std::floor(corr(y.beta_fast)), 0.0);
    double hi = std::min(std::ceil(corr(y.beta_slow)), d - 1.0);
    if (lo == hi) hi += 0.001;
    for (int i = 0; i < d / 2; ++i) {
      double ramp = std::clamp((i - lo) / (hi - lo), 0.0, 1.0);
      double extra = inv_freq_[static_cast<std::size_t>(i)];
      double inter = extra / y.factor;
      inv_freq_[static_cast<std::size_t>(i)] = inter * ramp + extra * (1 - ramp);
    }
    attention_scaling_ = y.attention_factor ? *y.attention_factor : 0.1 * std::log(y.factor) + 1.0;
  }
}

std::vector<std::vector<double>> Qwen3Reference::forward(const std::vector<std::int32_t>& tokens) const {
  const std::size_t n = tokens.size(), h = static_cast<std::size_t>(c_.hidden_size);
  const std::size_t hd = static_cast<std::size_t>(c_.head_dim),
                    nh = static_cast<std::size_t>(c_.num_attention_heads);
  const std::size_t nkv = static_cast<std::size_t>(c_.num_key_value_heads), group = nh / nkv;
  const std::size_t inter = static_cast<std::size_t>(c_.intermediate_size);
  std::vector<std::vector<double>> x(n);
  for (std::size_t t = 0; t < n; ++t) {
    x[t].assign(embed_.begin() + static_cast<std::ptrdiff_t>(tokens[t] * h),
                embed_.begin() + static_cast<std::ptrdiff_t>((tokens[t] + 1) * h));
  }
  auto rope = [&](std::vector<double>& v, std::size_t off, std::size_t pos) {
    for (std::size_t i = 0; i < hd / 2; ++i) {
      double a = static_cast<double>(pos) * inv_freq_[i];
      double cs = std::cos(a) * attention_scaling_, sn = std::sin(a) * attention_scaling_;
      double x1 = v[off + i], x2 = v[off + i + hd / 2];
      v[off + i] = x1 * cs - x2 * sn;
      v[off + i + hd / 2] = x2 * cs + x1 * sn;
    }
  };
  for (const Layer& L : layers_) {
    std::vector<std::vector<double>> q(n), k(n), v(n);
    for (std::size_t t = 0; t < n; ++t) {
      auto xn = rms_norm(x[t], L.input_norm.data(), c_.rms_norm_eps);
      q[t] = matvec(L.q, xn, nh * hd);
      k[t] = matvec(L.k, xn, nkv * hd);
      v[t] = matvec(L.v, xn, nkv * hd);
      for (std::size_t hh = 0; hh < nh; ++hh) {
        auto qn = rms_norm(q[t], L.q_norm.data(), c_.rms_norm_eps, hh * hd, hd);
        std::copy(qn.begin(), qn.end(), q[t].begin() + static_cast<std::ptrdiff_t>(hh * hd));
        rope(q[t], hh * hd, t);
      }
      for (std::size_t hh = 0; hh < nkv; ++hh) {
        auto kn = rms_norm(k[t], L.k_norm.data(), c_.rms_norm_eps, hh * hd, hd);
        std::copy(kn.begin(), kn.end(), k[t].begin() + static_cast<std::ptrdiff_t>(hh * hd));
        rope(k[t], hh * hd, t);
      }
    }
    for (std::size_t t = 0; t < n; ++t) {
      std::vector<double> attn(nh * hd, 0.0);
      for (std::size_t hh = 0; hh < nh; ++hh) {
        std::size_t kvh = hh / group;
        std::vector<double> s(t + 1);
        double mx = -INFINITY;
        for (std::size_t j = 0; j <= t; ++j) {
          double dot = 0;
          for (std::size_t dd = 0; dd < hd; ++dd)
            dot += q[t][hh * hd + dd] * k[j][kvh * hd + dd];
          s[j] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (double& e : s)
          z += (e = std::exp(e - mx));
        for (std::size_t j = 0; j <= t; ++j) {
          for (std::size_t dd = 0; dd < hd; ++dd)
            attn[hh * hd + dd] += s[j] / z * v[j][kvh * hd + dd];
        }
      }
      auto o = matvec(L.o, attn, h);
      for (std::size_t i = 0; i < h; ++i)
        x[t][i] += o[i];
      auto xn = rms_norm(x[t], L.post_norm.data(), c_.rms_norm_eps);
      auto g = matvec(L.gate, xn, inter);
      auto u = matvec(L.up, xn, inter);
      for (std::size_t i = 0; i < inter; ++i)
        g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      auto dn = matvec(L.down, g, h);
      for (std::size_t i = 0; i < h; ++i)
        x[t][i] += dn[i];
    }
  }
  std::vector<std::vector<double>> logits(n);
  for (std::size_t t = 0; t < n; ++t) {
    auto xn = rms_norm(x[t], final_norm_.data(), c_.rms_norm_eps);
    logits[t] = matvec(lm_head_, xn, static_cast<std::size_t>(c_.vocab_size));
  }
  return logits;
}

Qwen3Reference::Greedy Qwen3Reference::greedy(const std::vector<std::int32_t>& prompt, int max_new) const {
  Greedy g;
  std::vector<std::int32_t> seq = prompt;
  for (int i = 0; i < max_new; ++i) {
    auto logits = forward(seq).back();
    std::vector<std::size_t> idx(logits.size());
    for (std::size_t j = 0; j < idx.size(); ++j)
      idx[j] = j;
    std::partial_sort(idx.begin(), idx.begin() + 2, idx.end(),
                      [&](auto a, auto b) { return logits[a] > logits[b]; });
    g.margins.push_back(logits[idx[0]] - logits[idx[1]]);
    g.tokens.push_back(static_cast<std::int32_t>(idx[0]));
    seq.push_back(static_cast<std::int32_t>(idx[0]));
  }
  return g;
}

}  // namespace pagoda::testing
