// Heatmap of a similarity matrix: cells coloured on [min, 1], labelled axes, a colour bar.
#include <algorithm>
#include <cstdio>

#include "layerlab/similarity.h"
#include "util/svg.h"

namespace layerlab {

std::string similarity_to_svg(const SimilarityResult& r, const std::string& title) {
  const size_t n = r.labels.size();
  const int cell = n > 40 ? 12 : n > 20 ? 18 : 28;
  const int left = 110, top = 50, bar_w = 18;
  const int size = static_cast<int>(n) * cell;
  const int width = std::max<int>(left + size + 90, 30 + 9 * static_cast<int>(title.size()));
  const int height = top + size + 120;
  double lo = 1.0;
  for (const auto& row : r.matrix)
    for (double v : row) lo = std::min(lo, v);
  lo = std::min(lo, 0.999);
  auto scale = [&](double v) { return (v - lo) / (1.0 - lo); };
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='11'>\n"
                "<rect width='100%%' height='100%%' fill='white'/>\n"
                "<text x='%d' y='24' font-size='14'>%s</text>\n",
                width, height, 12, svg::escape(title).c_str());
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
    std::snprintf(buf, sizeof buf, "<text x='%d' y='%d' text-anchor='end' transform='rotate(-60 %d %d)'>%s</text>\n", x, y,
                  x, y, l.c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "<text x='%d' y='%d' text-anchor='middle'>step (hidden state after)</text>\n",
                left + size / 2, height - 6);
  s += buf;
  // Colour bar from lo (bottom) to 1 (top).
  const int bx = left + size + 20;
  for (int i = 0; i < 50; ++i) {
    std::snprintf(buf, sizeof buf, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s'/>\n", bx,
                  top + size - (i + 1) * size / 50, bar_w, size / 50 + 1, svg::viridis((i + 0.5) / 50).c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x='%d' y='%d'>1.00</text>\n<text x='%d' y='%d'>%.2f</text>\n"
                "<text x='%d' y='%d' transform='rotate(90 %d %d)'>mean cosine similarity</text>\n</svg>\n",
                bx + bar_w + 4, top + 8, bx + bar_w + 4, top + size, lo, bx + bar_w + 34, top + size / 2 - 60,
                bx + bar_w + 34, top + size / 2 - 60);
  s += buf;
  return s;
}

}  // namespace layerlab
