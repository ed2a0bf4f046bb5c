#include "eval_records.h"

#include <cmath>
#include <limits>

#include "layerlab/error.h"
#include "util/json_depth.h"

namespace layerlab::cli {

using nlohmann::json;

EvalRecords::EvalRecords(std::string path, const json& setup, const std::string& task, bool resume)
    : path_(std::move(path)), task_(task), setup_(setup) {
  lock_ = std::make_unique<FileLock>(path_, "an eval");
  if (!resume || !file_exists(path_)) {
    if (resume) fail("--resume", "nothing to resume: " + path_ + " does not exist (run without --resume first)");
    write_file_atomic(path_, json{{"setup", setup_}}.dump() + "\n");
    return;
  }
  const std::string text = read_text_file(path_);
  const size_t whole = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;  // the rest is torn
  int line_no = 0;
  for (size_t pos = 0; pos < whole;) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const std::string where = path_ + ":" + std::to_string(++line_no);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    check_json_depth(line, where);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail(where, std::string("not a JSON line: ") + e.what());
    }
    if (line_no == 1) {
      if (!j.is_object() || !j.contains("setup")) fail(where, "not an eval records file (no \"setup\" line first)");
      const json& was = j["setup"];
      for (const auto& [key, value] : setup_.items())
        if (!was.contains(key) || was[key] != value)
          fail("--resume", path_ + " was recorded with " + key + " " + (was.contains(key) ? was[key].dump() : "unset") +
                               ", this run has " + value.dump() + "; give the same options, or run without --resume");
      continue;
    }
    try {
      ItemRecord r;
      r.index = j.at("doc_id").get<int64_t>();
      for (const json& x : j.at("scores")) r.values.push_back(x.is_null() ? std::nan("") : x.get<double>());
      j.erase("scores");
      j.erase("doc_id");
      j.erase("task");
      r.sample = std::move(j);
      resumed_[r.index] = std::move(r);  // a chunk recorded again: the later copy
    } catch (const json::exception& e) {
      fail(where, std::string("item record lacks doc_id / scores: ") + e.what());
    }
  }
  std::string kept = json{{"setup", setup_}}.dump() + "\n";
  for (const auto& [i, r] : resumed_) kept += line_of(r) + "\n";
  write_file_atomic(path_, kept);  // drops a torn line, so the next append starts a fresh line
}

std::string EvalRecords::line_of(const ItemRecord& r) const { return item_record_line(r, task_); }

void EvalRecords::append(const std::vector<ItemRecord>& chunk) {
  if (chunk.empty()) return;
  std::string lines;
  for (const ItemRecord& r : chunk) lines += (lines.empty() ? "" : "\n") + line_of(r);
  append_line_durable(path_, lines);
}

void EvalRecords::tidy(const std::vector<ItemRecord>& all) {
  std::string text = json{{"setup", setup_}}.dump() + "\n";
  for (const ItemRecord& r : all) text += line_of(r) + "\n";
  write_file_atomic(path_, text);
}

}  // namespace layerlab::cli
