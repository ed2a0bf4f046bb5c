#pragma once
// Text documents from a file, as every command that reads free text takes them.
#include <string>
#include <vector>

namespace layerlab {

// A JSON-lines file (.jsonl or .json) gives the string field "text" of each record, blank lines
// skipped; any other file is one document. limit > 0 stops after that many documents. Errors
// name the file and line (bad JSON, a record without a string "text", no records at all).
std::vector<std::string> read_text_documents(const std::string& path, int limit = 0);

}  // namespace layerlab
