#pragma once
// A float64 BERT encoder written from the Hugging Face BertModel definition (post-LN blocks,
// exact GELU, bidirectional attention, word + position + token-type embeddings), reading the
// tensors by their Hugging Face names straight from model.safetensors: the independent
// reference for token types and for the fine-tuning code. Plain loops; tiny models only.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "layerlab/safetensors.h"

namespace layerlab::testing {

using Mat = std::vector<double>;  // row-major

struct BertReference {
  int d = 0, heads = 0, ff = 0, layers = 0;
  double eps = 1e-12;
  std::map<std::string, std::vector<double>> t;

  BertReference(const std::string& dir, int d_model, int n_head, int d_ff, int n_layer, double norm_eps)
      : d(d_model), heads(n_head), ff(d_ff), layers(n_layer), eps(norm_eps) {
    SafetensorsFile f(dir + "/model.safetensors");
    for (const auto& [name, info] : f.tensors()) {
      (void)info;
      if (name.rfind("bert.", 0) != 0) continue;
      const std::vector<float> v = f.read_f32(name);
      t[name.substr(5)] = std::vector<double>(v.begin(), v.end());
    }
  }
  const std::vector<double>& w(const std::string& name) const { return t.at(name); }

  // y[n, out] = x[n, in] W^T + b, W [out, in] (torch Linear)
  static Mat linear(const Mat& x, int n, int in, const std::vector<double>& W, const std::vector<double>& b, int out) {
    Mat y(size_t(n) * out);
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < out; ++o) {
        double s = b[o];
        for (int k = 0; k < in; ++k) s += x[size_t(i) * in + k] * W[size_t(o) * in + k];
        y[size_t(i) * out + o] = s;
      }
    return y;
  }
  void layer_norm(Mat& x, int n, const std::string& name) const {
    const auto &g = w(name + ".weight"), &b = w(name + ".bias");
    for (int i = 0; i < n; ++i) {
      double* r = x.data() + size_t(i) * d;
      double m = 0, v = 0;
      for (int k = 0; k < d; ++k) m += r[k];
      m /= d;
      for (int k = 0; k < d; ++k) v += (r[k] - m) * (r[k] - m);
      v /= d;
      for (int k = 0; k < d; ++k) r[k] = (r[k] - m) / std::sqrt(v + eps) * g[k] + b[k];
    }
  }
  Mat embed(const std::vector<int32_t>& ids, const std::vector<int32_t>& types) const {
    const int n = int(ids.size());
    Mat x(size_t(n) * d);
    const auto &we = w("embeddings.word_embeddings.weight"), &pe = w("embeddings.position_embeddings.weight"),
               &te = w("embeddings.token_type_embeddings.weight");
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < d; ++k)
        x[size_t(i) * d + k] = we[size_t(ids[i]) * d + k] + pe[size_t(i) * d + k] + te[size_t(types[i]) * d + k];
    layer_norm(x, n, "embeddings.LayerNorm");
    return x;
  }
  // One BertLayer on x [n, d].
  Mat layer(const Mat& x, int n, int l) const {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    const std::string a = p + "attention.self.";
    const Mat q = linear(x, n, d, w(a + "query.weight"), w(a + "query.bias"), d);
    const Mat k = linear(x, n, d, w(a + "key.weight"), w(a + "key.bias"), d);
    const Mat v = linear(x, n, d, w(a + "value.weight"), w(a + "value.bias"), d);
    const int hd = d / heads;
    Mat ctx(size_t(n) * d, 0.0);
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < n; ++i) {
        std::vector<double> s(n);
        double mx = -1e300, z = 0;
        for (int j = 0; j < n; ++j) {
          double dot = 0;
          for (int e = 0; e < hd; ++e) dot += q[size_t(i) * d + h * hd + e] * k[size_t(j) * d + h * hd + e];
          s[j] = dot / std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j < n; ++j) z += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j < n; ++j)
          for (int e = 0; e < hd; ++e) ctx[size_t(i) * d + h * hd + e] += s[j] / z * v[size_t(j) * d + h * hd + e];
      }
    Mat h1 = linear(ctx, n, d, w(p + "attention.output.dense.weight"), w(p + "attention.output.dense.bias"), d);
    for (size_t i = 0; i < h1.size(); ++i) h1[i] += x[i];
    layer_norm(h1, n, p + "attention.output.LayerNorm");
    Mat up = linear(h1, n, d, w(p + "intermediate.dense.weight"), w(p + "intermediate.dense.bias"), ff);
    for (double& u : up) u = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
    Mat out = linear(up, n, ff, w(p + "output.dense.weight"), w(p + "output.dense.bias"), d);
    for (size_t i = 0; i < out.size(); ++i) out[i] += h1[i];
    layer_norm(out, n, p + "output.LayerNorm");
    return out;
  }
};

}  // namespace layerlab::testing
