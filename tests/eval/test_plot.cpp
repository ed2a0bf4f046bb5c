// The sweep figures and the similarity heatmap (issue 17, Figures): the SVG's structure is
// parsed back and checked against what the figure must show, computed here from the records:
// log-axis positions (log10 spacing), error bars at score +- stderr in the axis' own mapping,
// reference lines inside the frame, round ticks, legends inside the canvas, titles naming the
// model rather than the typed path, a fixed heatmap colour range, and PNG / PDF through rsvg-convert.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot.h"
#include "layerlab/similarity.h"

namespace layerlab {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("layerlab_plot_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

json rec(const std::string& task, const std::string& variant, int n, double score, double se, const std::string& primary,
         json chance, const std::string& model) {
  return json{{"task", task}, {"variant", variant}, {"n", n}, {"seed", 0}, {"score", score}, {"primary", primary},
              {"chance", chance}, {"items", 40}, {"model", model},
              {"metrics", {{primary, {{"value", score}, {"stderr", se}}}}}};
}

// Every <text class='C' x y>label</text> of a class.
std::vector<std::tuple<double, double, std::string>> texts(const std::string& svg, const std::string& cls) {
  std::vector<std::tuple<double, double, std::string>> out;
  const std::regex re("<text class='" + cls + "' x='([-\\d.]+)' y='([-\\d.]+)'[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]), (*it)[3]);
  return out;
}
double attr(const std::string& svg, const std::string& pattern) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(svg, m, std::regex(pattern))) << pattern;
  return m.size() > 1 ? std::stod(m[1]) : NAN;
}

TEST(Plot, TicksAreRound) {
  for (auto [lo, hi] : {std::pair{0.0, 1.0}, {0.213, 0.787}, {4.8, 113.0}, {-3.3, 17.0}, {0.5, 0.52}}) {
    const auto t = nice_ticks(lo, hi);
    ASSERT_GE(t.size(), 2u);
    const double step = t[1] - t[0];
    const double mag = std::pow(10.0, std::floor(std::log10(step)));
    const double m = step / mag;
    EXPECT_TRUE(std::abs(m - 1) < 1e-9 || std::abs(m - 2) < 1e-9 || std::abs(m - 2.5) < 1e-9 || std::abs(m - 5) < 1e-9) << step;
    for (double v : t) EXPECT_NEAR(v / step, std::round(v / step), 1e-9) << v;
    EXPECT_GE(t.front(), lo - 1e-12);
    EXPECT_LE(t.back(), hi + 1e-12);
  }
  EXPECT_EQ(log_ticks(4.8, 113), (std::vector<double>{5, 10, 20, 50, 100}));
  EXPECT_TRUE(spans_decades({4.8, 113}));
  EXPECT_FALSE(spans_decades({0.3, 0.7}));
  EXPECT_FALSE(spans_decades({-1, 100}));
}

TEST(Plot, ModelNameIsTheFolderNotThePathTyped) {
  const std::string root = temp_dir("name");
  fs::create_directories(root + "/models/gpt2-code-24l");
  std::ofstream(root + "/models/gpt2-code-24l/config.json") << R"({"model_type": "gpt2"})";
  EXPECT_EQ(model_display_name(root + "/models/gpt2-code-24l/"), "gpt2-code-24l");
  EXPECT_EQ(model_display_name(root + "/models/./x/../gpt2-code-24l"), "gpt2-code-24l");
  fs::create_directories(root + "/m");
  std::ofstream(root + "/m/config.json") << R"({"_name_or_path": "meta-llama/Llama-2-7b-hf"})";
  EXPECT_EQ(model_display_name(root + "/m"), "Llama-2-7b-hf");
  EXPECT_EQ(model_display_name("/no/such/folder/my-model/"), "my-model");
}

// A perplexity sweep spanning 4.8 .. 113 and an accuracy task with chance 0.25.
std::vector<json> sweep_records(const std::string& model) {
  std::vector<json> r = {rec("perplexity", "full", 0, 4.8, 0.2, "perplexity", nullptr, model),
                         rec("arc_easy", "full", 0, 0.62, 0.05, "acc", 0.25, model)};
  const std::map<int, double> ppl = {{1, 6.0}, {3, 11.5}, {5, 30.0}, {7, 113.0}};
  for (auto [n, v] : ppl) r.push_back(rec("perplexity", "skip", n, v, 0.05 * v, "perplexity", nullptr, model));
  const std::map<int, double> acc = {{1, 0.55}, {3, 0.41}, {5, 0.30}, {7, 0.26}};
  for (auto [n, v] : acc) {
    r.push_back(rec("arc_easy", "skip", n, v, 0.07, "acc", 0.25, model));
    r.push_back(rec("arc_easy", "a_variant_with_a_long_name_for_the_legend", n, v - 0.02, 0.07, "acc", 0.25, model));
  }
  return r;
}

TEST(Plot, SweepFiguresArePaperReady) {
  const std::string dir = temp_dir("sweep");
  const std::string typed = "./some/where/../where/gpt2-code-24l/";
  const auto files = plot_sweep(sweep_records(typed), dir);
  ASSERT_EQ(files.size(), 3u);  // arc_easy, perplexity, normalised_median

  // Perplexity: log y axis: tick positions follow log10 (10 -> 100 spans as much as 5 -> 50).
  const std::string ppl = read_text_file(dir + "/perplexity.svg");
  EXPECT_NE(ppl.find("gpt2-code-24l · perplexity: perplexity vs N"), std::string::npos);
  EXPECT_EQ(ppl.find("some/where"), std::string::npos) << "the typed path must not appear";
  std::map<std::string, double> ty;
  for (auto& [x, y, l] : texts(ppl, "ytick")) ty[l] = y;
  ASSERT_TRUE(ty.count("5") && ty.count("10") && ty.count("50") && ty.count("100")) << ppl;
  EXPECT_NEAR(ty["10"] - ty["100"], ty["5"] - ty["50"], 0.2);
  const double px_per_decade = ty["10"] - ty["100"];
  EXPECT_NEAR(ty["10"] - ty["20"], px_per_decade * std::log10(2.0), 0.2);
  EXPECT_NE(std::get<2>(texts(ppl, "ylabel").at(0)).find("log scale"), std::string::npos);
  // Error bars: from score - se to score + se, in the axis' own log mapping (N = 7: 113 +- 5.65).
  auto Ylog = [&](double v) { return ty["10"] - px_per_decade * std::log10(v / 10); };
  std::smatch m;
  const std::regex bar("<path class='errorbar' d='M([\\d.]+) ([\\d.]+)V([\\d.]+)");
  std::vector<std::pair<double, double>> bars;
  for (auto it = std::sregex_iterator(ppl.begin(), ppl.end(), bar); it != std::sregex_iterator(); ++it)
    bars.emplace_back(std::stod((*it)[2]), std::stod((*it)[3]));
  ASSERT_EQ(bars.size(), 4u);
  EXPECT_NEAR(bars[3].first, Ylog(113 - 5.65), 0.2);
  EXPECT_NEAR(bars[3].second, Ylog(113 + 5.65), 0.2);

  // Accuracy: full model and chance lines inside the frame (padded, not on its edge); units.
  const std::string acc = read_text_file(dir + "/arc_easy.svg");
  const double top = attr(acc, "<rect x='\\d+' y='(\\d+)' width='\\d+' height='\\d+' fill='none'");
  const double height = attr(acc, "<rect x='\\d+' y='\\d+' width='\\d+' height='(\\d+)' fill='none'");
  const std::regex hline("<line class='hline' x1='\\d+' y1='([\\d.]+)'");
  int lines = 0;
  for (auto it = std::sregex_iterator(acc.begin(), acc.end(), hline); it != std::sregex_iterator(); ++it, ++lines) {
    const double y = std::stod((*it)[1]);
    EXPECT_GT(y, top + 3);
    EXPECT_LT(y, top + height - 3);
  }
  EXPECT_EQ(lines, 2);
  EXPECT_NE(acc.find("class='band'"), std::string::npos) << "the full model's standard error is shaded";
  EXPECT_NE(std::get<2>(texts(acc, "ylabel").at(0)).find("fraction"), std::string::npos);
  EXPECT_NE(std::get<2>(texts(acc, "xlabel").at(0)).find("N"), std::string::npos);
  // Round ticks: every y tick a multiple of the step between ticks.
  const auto yt = texts(acc, "ytick");
  ASSERT_GE(yt.size(), 3u);
  const double step = std::stod(std::get<2>(yt[1])) - std::stod(std::get<2>(yt[0]));
  for (auto& [x, y, l] : yt) EXPECT_NEAR(std::stod(l) / step, std::round(std::stod(l) / step), 1e-6) << l;
  for (auto& [x, y, l] : texts(acc, "xtick")) EXPECT_EQ(l, std::to_string(std::stoi(l))) << "N ticks are whole numbers";
  // Legend: one block, every entry once, inside the canvas (the long name is not cut off).
  const double width = attr(acc, "<svg [^>]*width='(\\d+)'");
  const auto legend = texts(acc, "legend");
  ASSERT_EQ(legend.size(), 4u);  // full model, chance, two variants
  for (auto& [x, y, l] : legend) EXPECT_LE(x + 6.6 * double(l.size()), width) << l;

  // The normalised chart: 1 = full, 0 = chance.
  const std::string med = read_text_file(dir + "/normalised_median.svg");
  EXPECT_NE(med.find("gpt2-code-24l · Median normalised score over 1 task"), std::string::npos);
  // An explicit name wins.
  plot_sweep(sweep_records(typed), dir, {"GPT-2 code (24 layers)", {"svg"}});
  EXPECT_NE(read_text_file(dir + "/arc_easy.svg").find("GPT-2 code (24 layers) · arc_easy"), std::string::npos);
}

// Hex colour of the cell whose tooltip says "a vs b".
std::string cell_colour(const std::string& svg, const std::string& a, const std::string& b) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(svg, m, std::regex("fill='(#[0-9a-f]{6})'><title>" + a + " vs " + b + ":"))) << a << b;
  return m.size() > 1 ? std::string(m[1]) : "";
}

TEST(Plot, SimilarityHeatmapHasAFixedRangeOption) {
  SimilarityResult r1{{"emb", "1:L0", "2:L1"}, {{1, 0.75, 0.6}, {0.75, 1, 0.9}, {0.6, 0.9, 1}}, 100, 2};
  SimilarityResult r2{{"emb", "1:L0", "2:L1"}, {{1, 0.75, 0.2}, {0.75, 1, 0.9}, {0.2, 0.9, 1}}, 100, 2};
  // From the data, 0.75 gets different colours in the two models (their lowest values differ)...
  EXPECT_NE(cell_colour(similarity_to_svg(r1, "a"), "emb", "1:L0"), cell_colour(similarity_to_svg(r2, "b"), "emb", "1:L0"));
  // ...on a fixed range [0.5, 1] the same colour: viridis at (0.75 - 0.5) / 0.5 = 0.5; values below clamp.
  const std::string f1 = similarity_to_svg(r1, "a", 0.5, 1.0), f2 = similarity_to_svg(r2, "b", 0.5, 1.0);
  EXPECT_EQ(cell_colour(f1, "emb", "1:L0"), cell_colour(f2, "emb", "1:L0"));
  EXPECT_EQ(cell_colour(f2, "emb", "2:L1"), cell_colour(similarity_to_svg(r2, "b", 0.2, 1.0), "emb", "2:L1"))
      << "0.2 clamped to the bottom of [0.5, 1] is the bottom colour, as 0.2 at the bottom of [0.2, 1]";
  // The colour bar's ticks are round values inside the range.
  const auto ticks = texts(f1, "cbtick");
  ASSERT_GE(ticks.size(), 3u);
  for (auto& [x, y, l] : ticks) {
    const double v = std::stod(l);
    EXPECT_GE(v, 0.5 - 1e-9);
    EXPECT_LE(v, 1.0 + 1e-9);
    EXPECT_NEAR(v * 10, std::round(v * 10), 1e-9) << l;
  }
  EXPECT_NE(f1.find("fixed range"), std::string::npos);
  EXPECT_THROW(similarity_to_svg(r1, "a", 0.9, 0.5), Error);
  EXPECT_NE(similarity_heatmap_svg(json{{"labels", {"emb", "1:L0"}}, {"matrix", {{1.0, 0.5}, {0.5, 1.0}}}}, "t", "x",
                                   {0.0, 1.0}).find("fixed range"), std::string::npos);
}

TEST(Plot, PngAndPdfBesideTheSvg) {
  EXPECT_THROW(parse_figure_formats("svg,jpg", "--format"), Error);
  const std::string dir = temp_dir("formats");
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path ? old_path : "";
  ::setenv("PATH", dir.c_str(), 1);  // no rsvg-convert here: a clear error before any work
  try {
    parse_figure_formats("svg,png", "--format");
    ADD_FAILURE() << "png without rsvg-convert must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("librsvg2-bin"), std::string::npos) << e.what();
  }
  ::setenv("PATH", saved.c_str(), 1);
  bool have = true;
  try {
    parse_figure_formats("png", "--format");
  } catch (const Error&) {
    have = false;
  }
  if (!have) GTEST_SKIP() << "rsvg-convert not installed (apt-get install librsvg2-bin)";
  const auto files = plot_sweep(sweep_records("m"), dir, {"", parse_figure_formats("svg,png,pdf", "--format")});
  ASSERT_EQ(files.size(), 9u);
  const std::string svg = read_text_file(dir + "/arc_easy.svg");
  const std::string png = read_text_file(dir + "/arc_easy.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  auto be32 = [&](size_t at) { return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
                                      (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3])); };
  EXPECT_EQ(double(be32(16)), 2 * attr(svg, "<svg [^>]*width='(\\d+)'")) << "PNG at twice the SVG's size";
  EXPECT_EQ(read_text_file(dir + "/arc_easy.pdf").substr(0, 5), "%PDF-");
}

}  // namespace
}  // namespace layerlab
