#pragma once
// Text documents and JSON-lines records from files, as every command that reads data takes them.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerlab {

// Calls fn(record, "path:line") for each non-blank line of a JSON-lines file, in order, until fn
// returns false. Errors name path:line for a line that is not valid JSON or not an object.
void for_each_jsonl_record(const std::string& path,
                           const std::function<bool(const nlohmann::json&, const std::string&)>& fn);

// A JSON-lines file (.jsonl or .json) gives the string field "text" of each record, blank lines
// skipped; any other file is one document. limit > 0 stops after that many documents. Errors
// name the file and line (bad JSON, a record without a string "text", no records at all).
std::vector<std::string> read_text_documents(const std::string& path, int limit = 0);

}  // namespace layerlab
