// Heatmap of a similarity matrix: labelled axes, cells coloured on [vmin, vmax] (from the data
// unless fixed, so heatmaps of several models can share one scale), a colour bar with round ticks.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "layerlab/error.h"
#include "layerlab/plot.h"
#include "layerlab/similarity.h"
#include "util/svg.h"

namespace layerlab {

std::string similarity_to_svg(const SimilarityResult& r, const std::string& title, double vmin, double vmax) {
  const size_t n = r.labels.size();
  const int cell = n > 40 ? 12 : n > 20 ? 18 : 28;
  size_t longest = 4;
  for (const auto& l : r.labels) longest = std::max(longest, l.size());
  const int label_w = 14 + int(6.2 * double(longest));
  const int left = label_w + 30, top = 62, bar_w = 18;
  const int size = static_cast<int>(n) * cell;
  const int width = std::max<int>(left + size + 150, 40 + int(7.4 * double(title.size())));
  const int height = top + size + label_w + 40;
  double lo = 1.0, hi = 1.0;
  for (const auto& row : r.matrix)
    for (double v : row) lo = std::min(lo, v);
  lo = std::min(lo, 0.999);
  if (std::isfinite(vmin)) lo = vmin;
  if (std::isfinite(vmax)) hi = vmax;
  if (!(hi > lo)) fail("similarity heatmap", "the colour range needs vmin < vmax (got " + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  auto scale = [&](double v) { return std::clamp((v - lo) / (hi - lo), 0.0, 1.0); };
  std::string s;
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='DejaVu Sans, sans-serif' font-size='11'>\n"
                "<rect width='100%%' height='100%%' fill='white'/>\n"
                "<text class='title' x='%d' y='24' font-size='14'>%s</text>\n",
                width, height, 12, svg::escape(title).c_str());
  s += buf;
  std::string sub = "mean cosine similarity of the hidden states after each pair of steps";
  if (r.tokens > 0) sub += " (" + std::to_string(r.tokens) + " tokens" + (r.texts > 0 ? ", " + std::to_string(r.texts) + " windows" : "") + ")";
  std::snprintf(buf, sizeof buf, "<text class='subtitle' x='12' y='44' fill='#555'>%s</text>\n", svg::escape(sub).c_str());
  s += buf;
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) {
      std::snprintf(buf, sizeof buf, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s'><title>%s vs %s: %.4f</title></rect>\n",
                    left + int(b) * cell, top + int(a) * cell, cell, cell, svg::viridis(scale(r.matrix[a][b])).c_str(),
                    svg::escape(r.labels[a]).c_str(), svg::escape(r.labels[b]).c_str(), r.matrix[a][b]);
      s += buf;
    }
  for (size_t i = 0; i < n; ++i) {
    const std::string l = svg::escape(r.labels[i]);
    std::snprintf(buf, sizeof buf, "<text x='%d' y='%d' text-anchor='end' dominant-baseline='middle'>%s</text>\n",
                  left - 4, top + int(i) * cell + cell / 2, l.c_str());
    s += buf;
    const int x = left + int(i) * cell + cell / 2, y = top + size + 6;
    std::snprintf(buf, sizeof buf, "<text x='%d' y='%d' text-anchor='end' dominant-baseline='middle' transform='rotate(-90 %d %d)'>%s</text>\n",
                  x, y, x, y, l.c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text class='xlabel' x='%d' y='%d' text-anchor='middle'>plan step (hidden state after it; emb = embedding)</text>\n"
                "<text class='ylabel' x='14' y='%d' text-anchor='middle' transform='rotate(-90 14 %d)'>plan step</text>\n",
                left + size / 2, height - 10, top + size / 2, top + size / 2);
  s += buf;
  // Colour bar from lo (bottom) to hi (top), ticks at round values.
  const int bx = left + size + 20;
  for (int i = 0; i < 50; ++i) {
    std::snprintf(buf, sizeof buf, "<rect x='%d' y='%.2f' width='%d' height='%.2f' fill='%s'/>\n", bx,
                  top + size - (i + 1) * size / 50.0, bar_w, size / 50.0 + 0.6, svg::viridis((i + 0.5) / 50).c_str());
    s += buf;
  }
  auto Y = [&](double v) { return top + size - (v - lo) / (hi - lo) * size; };
  for (double t : nice_ticks(lo, hi, 5)) {
    if (t < lo - 1e-9 || t > hi + 1e-9) continue;
    std::snprintf(buf, sizeof buf,
                  "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#333'/><text class='cbtick' x='%d' y='%.1f' dominant-baseline='middle'>%g</text>\n",
                  bx + bar_w, Y(t), bx + bar_w + 4, Y(t), bx + bar_w + 7, Y(t), t);
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x='%d' y='%d' text-anchor='middle' transform='rotate(90 %d %d)'>mean cosine similarity%s</text>\n</svg>\n",
                bx + bar_w + 48, top + size / 2, bx + bar_w + 48, top + size / 2,
                std::isfinite(vmin) || std::isfinite(vmax) ? " (fixed range)" : "");
  s += buf;
  return s;
}

}  // namespace layerlab
