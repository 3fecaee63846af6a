#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binary_io.hpp"

namespace nn::detail {
namespace {

[[noreturn]] void write_failed(const char* who, const std::string& what, const std::string& path, int err) {
  throw std::runtime_error(fmt::format("{}: {} '{}': {}", who, what, path, std::strerror(err)));
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "directory";
  if (S_ISFIFO(mode)) return "FIFO (named pipe)";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}

std::string folder_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The file a save to `path` must replace: `path` itself, or the end of the
// chain of symbolic links it starts (which need not exist yet). Renaming
// over the link itself would turn it into a plain file.
std::string resolve_links(const std::string& path, const char* who) {
  std::string at = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return at;
    if (hops == 40) write_failed(who, "cannot resolve", path, ELOOP);
    std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
    const ssize_t n = ::readlink(at.c_str(), target.data(), target.size());
    if (n < 0) write_failed(who, "cannot read the symbolic link", at, errno);
    if (static_cast<std::size_t>(n) == target.size())
      write_failed(who, "cannot read the symbolic link", at, ENAMETOOLONG);
    target.resize(static_cast<std::size_t>(n));
    at = target.front() == '/' ? target : folder_of(at) + "/" + target;
  }
}

// A save killed between creating its temporary and renaming it leaves
// `<target>.tmp-<pid>-<n>`. Remove those whose process is gone (kill(pid, 0)
// says ESRCH); a live process's may be a save in progress. Best effort.
void remove_stale_temporaries(const std::string& target) {
  const std::string folder = folder_of(target);
  const std::size_t slash = target.find_last_of('/');
  const std::string prefix = (slash == std::string::npos ? target : target.substr(slash + 1)) + ".tmp-";
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(folder.c_str()), &::closedir);
  if (!dir) return;
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (!name.starts_with(prefix)) continue;
    // The rest must be exactly "<pid>-<counter>".
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size();
    long long pid = 0;
    unsigned long long counter = 0;
    const auto [dash, pid_error] = std::from_chars(first, last, pid);
    if (pid_error != std::errc{} || dash == first || dash == last || *dash != '-' || pid <= 0 || pid == self)
      continue;
    const auto [end, counter_error] = std::from_chars(dash + 1, last, counter);
    if (counter_error != std::errc{} || end == dash + 1 || end != last) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    ::unlinkat(::dirfd(dir.get()), entry->d_name, 0);
  }
}

}  // namespace

InputFile::InputFile(const std::string& path, const char* who) : path_(path), who_(who) {
  auto refuse = [&](mode_t mode) {
    throw std::runtime_error(fmt::format("{}: '{}' is a {}, not a regular file", who_, path_, kind_of(mode)));
  };
  // stat first, so that opening a device (with whatever effect that has)
  // is never tried; fstat again on what was opened, in case the path
  // changed in between. O_NONBLOCK: opening a FIFO must not wait for a writer.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(fmt::format("{}: cannot open '{}': {}", who_, path_, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) refuse(st.st_mode);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0)
    throw std::runtime_error(fmt::format("{}: cannot open '{}': {}", who_, path_, std::strerror(errno)));
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t mode = st.st_mode;
    ::close(fd_);
    refuse(mode);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

std::size_t InputFile::read(std::uint8_t* into, std::size_t n) {
  std::size_t done = 0;
  while (done < n && position_ < size_) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, size_ - position_));
    const ssize_t got = ::read(fd_, into + done, want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw std::runtime_error(fmt::format("{}: reading '{}' failed: {}", who_, path_, std::strerror(errno)));
    if (got == 0) break;  // shorter than when opened: the caller reports it as truncated
    done += static_cast<std::size_t>(got);
    position_ += static_cast<std::uint64_t>(got);
  }
  return done;
}

void InputFile::append(std::vector<std::uint8_t>& bytes, std::size_t n) {
  const std::size_t before = bytes.size();
  bytes.resize(before + static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - position_)));
  bytes.resize(before + read(bytes.data() + before, bytes.size() - before));
}

// temp file + fsync + rename + fsync of the folder: after a crash at any
// point the target is the old file or the complete new one.
void write_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes, const char* who) {
  static std::atomic<unsigned> counter{0};
  const std::string target = resolve_links(path, who);
  struct stat existing {};
  const bool exists = ::stat(target.c_str(), &existing) == 0;
  if (exists && !S_ISREG(existing.st_mode))
    throw std::runtime_error(fmt::format("{}: cannot replace '{}': it is a {}, not a regular file", who, path,
                                         kind_of(existing.st_mode)));
  remove_stale_temporaries(target);
  const std::string temporary = fmt::format("{}.tmp-{}-{}", target, ::getpid(), counter++);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) write_failed(who, "cannot create", temporary, errno);
  auto give_up = [&](const char* what, const std::string& name, int err, bool open) {
    if (open) ::close(fd);
    ::unlink(temporary.c_str());
    write_failed(who, what, name, err);
  };
  // The replacement keeps the permissions of the file it replaces (a 0600
  // file stays private).
  if (exists && ::fchmod(fd, existing.st_mode & 07777) != 0)
    give_up("cannot set the mode of", temporary, errno, true);
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) give_up("writing failed on", temporary, n < 0 ? errno : EIO, true);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) give_up("flushing failed on", temporary, errno, true);
  if (::close(fd) != 0) give_up("closing failed on", temporary, errno, false);
  if (::rename(temporary.c_str(), target.c_str()) != 0) give_up("cannot replace", path, errno, false);
  // The rename itself is durable once the folder's entry is on disk.
  const int dir = ::open(folder_of(target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse fsync on folders
    ::close(dir);
  }
}

}  // namespace nn::detail
