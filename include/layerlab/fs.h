#pragma once
// Small file helpers shared by every module.
#include <string>

namespace layerlab {

// Whole file as a string; Error naming the path if it cannot be read.
std::string read_text_file(const std::string& path);
// Writes via a temporary file in the same directory and rename(2), so readers never see
// a half-written file and an interrupted run leaves the old file intact.
void write_file_atomic(const std::string& path, const std::string& content);
// Appends one line (a '\n' is added) with a single write(2) and fsync, so an interrupted
// process leaves either the whole line or (at worst) a torn last line that readers skip.
void append_line_durable(const std::string& path, const std::string& line);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

}  // namespace layerlab
