#include "layerlab/documents.h"

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "util/json_depth.h"

namespace layerlab {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void for_each_jsonl_record(const std::string& path,
                           const std::function<bool(const nlohmann::json&, const std::string&)>& fn) {
  const std::string content = read_text_file(path);
  size_t pos = 0;
  int line_no = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    ++line_no;
    const std::string line = content.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    check_json_depth(line, where);
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(where, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) fail(where, "a record must be a JSON object");
    if (!fn(j, where)) return;
  }
}

std::vector<std::string> read_text_documents(const std::string& path, int limit) {
  if (!ends_with(path, ".jsonl") && !ends_with(path, ".json")) return {read_text_file(path)};
  std::vector<std::string> docs;
  for_each_jsonl_record(path, [&](const nlohmann::json& j, const std::string& where) {
    if (!j.contains("text") || !j["text"].is_string()) fail(where, "expected a JSON object with a string field 'text'");
    docs.push_back(j["text"].get<std::string>());
    return limit <= 0 || static_cast<int>(docs.size()) < limit;
  });
  if (docs.empty()) fail(path, "no records (expected JSON lines with a string field 'text')");
  return docs;
}

}  // namespace layerlab
