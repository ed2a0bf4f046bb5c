#pragma once
// eval's per-item records file (--log-samples FILE, or OUT.items.jsonl beside --out): line 1
// is the run's setup, then one JSON line per scored item, appended (one write + fsync per
// chunk of items) as chunks finish, so a killed eval keeps them and --resume skips them.
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "layerlab/eval.h"
#include "layerlab/fs.h"

namespace layerlab::cli {

class EvalRecords {
 public:
  // Locks `path`. resume: reads the items already recorded (a torn last line, from a kill
  // during a write, is dropped) after checking that the file's setup equals `setup` (an
  // Error naming the first field that differs), then rewrites the file with them;
  // otherwise starts the file afresh with `setup`.
  EvalRecords(std::string path, const nlohmann::json& setup, const std::string& task, bool resume);
  // The items of the earlier run, by index (empty when not resuming).
  const std::map<int64_t, ItemRecord>& resumed() const { return resumed_; }
  // Appends a finished chunk's items (one write(2) + fsync).
  void append(const std::vector<ItemRecord>& chunk);
  // Rewrites the file with each item once, in item order (a resumed chunk that was cut short
  // is recorded again whole when it is rerun).
  void tidy(const std::vector<ItemRecord>& all);
  const std::string& path() const { return path_; }

 private:
  std::string line_of(const ItemRecord& r) const;
  std::string path_, task_;
  nlohmann::json setup_;
  std::unique_ptr<FileLock> lock_;
  std::map<int64_t, ItemRecord> resumed_;
};

}  // namespace layerlab::cli
