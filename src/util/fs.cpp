#include "layerlab/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "layerlab/error.h"

namespace layerlab {

std::string read_text_file(const std::string& path, uint64_t max_bytes) {
  // Only regular files: "/dev/zero" or a FIFO as a plan or config would be read forever.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    fail(path, std::to_string(st.st_size) + " bytes is more than the " + std::to_string(max_bytes) +
                   " this file may have");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

static void write_all(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, std::string("write failed: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// fsync and close with their results checked: a full disk or an NFS error often shows only
// there, and ignoring it would report a result as saved that is not.
static void sync_and_close(int fd, const std::string& path) {
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced) fail(path, std::string("fsync failed: ") + std::strerror(sync_errno));
  if (!closed) fail(path, std::string("close failed: ") + std::strerror(errno));
}

static std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The rename itself lives in the directory: without this fsync a crash can undo it.
static void sync_dir_of(const std::string& path) {
  const int fd = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // not openable (permissions): the file itself is already durable
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  // Named here, not as the temporary file that open(2) would fail on.
  if (!is_directory(parent_dir(path))) fail(path, "cannot write: the folder " + parent_dir(path) + " does not exist");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail(tmp, std::string("cannot create: ") + std::strerror(errno));
  try {
    write_all(fd, content.data(), content.size(), tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  try {
    sync_and_close(fd, tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot rename into place: ") + std::strerror(e));
  }
  sync_dir_of(path);
}

void append_line_durable(const std::string& path, const std::string& line) {
  const bool created = !file_exists(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) fail(path, std::string("cannot open for append: ") + std::strerror(errno));
  std::string buf = line + "\n";
  try {
    write_all(fd, buf.data(), buf.size(), path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  sync_and_close(fd, path);
  if (created) sync_dir_of(path);
}

void check_output_path(const std::string& path, const std::string& option) {
  if (path.empty()) fail(option, "the output path is empty");
  if (is_directory(path)) fail(option, path + " is a directory; give a file name");
  const std::string dir = parent_dir(path);
  if (!is_directory(dir)) fail(option, "the folder " + dir + " of " + path + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0) fail(option, "cannot write into " + dir + ": " + std::strerror(errno));
  if (file_exists(path) && ::access(path.c_str(), W_OK) != 0)
    fail(option, "cannot write " + path + ": " + std::strerror(errno));
}

FileLock::FileLock(const std::string& path, const std::string& what) : path_(path + ".lock") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, std::string("cannot create the lock file: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK)
      fail(path, "another process is writing it (" + what + " holds " + path_ +
                     "); wait for it to finish, or give another output file");
    fail(path_, std::string("cannot lock: ") + std::strerror(e));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (removing it would race)
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace layerlab
