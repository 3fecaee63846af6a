#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "binary_io.hpp"

namespace nn::detail {
namespace {

[[noreturn]] void write_failed(const char* who, const std::string& what, const std::string& path, int err) {
  throw std::runtime_error(fmt::format("{}: {} '{}': {}", who, what, path, std::strerror(err)));
}

}  // namespace

// temp file + fsync + rename + fsync of the folder: after a crash at any
// point the target is the old file or the complete new one.
void write_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes, const char* who) {
  static std::atomic<unsigned> counter{0};
  const std::string temporary = fmt::format("{}.tmp-{}-{}", path, ::getpid(), counter++);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) write_failed(who, "cannot create", temporary, errno);
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      write_failed(who, "writing failed on", temporary, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    write_failed(who, "flushing failed on", temporary, err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    write_failed(who, "closing failed on", temporary, err);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    write_failed(who, "cannot replace", path, err);
  }
  // The rename itself is durable once the folder's entry is on disk.
  const std::size_t slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse fsync on folders
    ::close(dir);
  }
}

}  // namespace nn::detail
