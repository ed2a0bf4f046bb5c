#pragma once
// Small file helpers shared by every module.
#include <cstdint>
#include <string>

namespace layerlab {

// Whole file as a string; Error naming the path if it cannot be read, is not a regular file
// or is larger than max_bytes.
std::string read_text_file(const std::string& path, uint64_t max_bytes = uint64_t(4) << 30);
// Writes via a temporary file in the same directory and rename(2), so readers never see
// a half-written file and an interrupted run leaves the old file intact.
void write_file_atomic(const std::string& path, const std::string& content);
// Appends one line (a '\n' is added) with a single write(2) and fsync, so an interrupted
// process leaves either the whole line or (at worst) a torn last line that readers skip.
void append_line_durable(const std::string& path, const std::string& line);
// Fails naming `option` unless `path` can be written: its folder exists and is writable, and
// it is not a folder itself. Commands call it before the work, not after it.
void check_output_path(const std::string& path, const std::string& option);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

// An exclusive advisory lock on PATH.lock for the life of the object: a second writer of the
// same results file is refused at once instead of duplicating or losing lines. The kernel
// drops the lock when the process dies, so a killed run never leaves it held.
class FileLock {
 public:
  FileLock(const std::string& path, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace layerlab
