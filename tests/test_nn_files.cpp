// Specification: what the nn file functions (nn::save/load, nn::save_checkpoint/
// load_checkpoint, the IDX readers) do with the file system around them:
// readers take only regular files and refuse anything else at once, naming
// the function and the path; writers never write what the reader would
// refuse, replace a file atomically through a symbolic link and keep its
// permissions, and clean up after saves that were killed.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <nn/checkpoint.hpp>
#include <nn/idx.hpp>
#include <nn/nn.hpp>

namespace {

namespace fs = std::filesystem;
using doctest::Contains;

// A fresh folder under the system's temporary folder, removed at the end.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::random_device seed;
    dir = fs::temp_directory_path() / fmt::format("ad_test_files_{}_{:x}", ::getpid(), seed());
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

nn::Network small_network(std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  return nn::Network({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// Every reader, by name, applied to `path`.
std::vector<std::pair<std::string, std::function<void()>>> readers(const std::string& path) {
  return {
      {"nn::load", [path] { nn::load(path); }},
      {"nn::load_checkpoint",
       [path] {
         nn::Network net = small_network();
         nn::SGD<double> sgd(net.parameters(), 0.1);
         nn::load_checkpoint(path, net, sgd);
       }},
      {"nn::read_idx", [path] { nn::read_idx(path); }},
      {"nn::load_idx_images", [path] { nn::load_idx_images(path); }},
      {"nn::load_idx_labels", [path] { nn::load_idx_labels(path); }},
  };
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A process id that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return child;
}

}  // namespace

TEST_CASE("every reader refuses a directory, naming the function, the path and what it is") {
  Scratch scratch;
  const std::string folder = scratch / "a-folder";
  fs::create_directories(folder);
  for (const auto& [who, read] : readers(folder)) {
    CAPTURE(who);
    const std::string message = message_of(read);
    CHECK(message == fmt::format("{}: '{}' is a directory, not a regular file", who, folder));
    CHECK_THROWS_AS(read(), std::runtime_error);
  }
}

TEST_CASE("every reader refuses a FIFO at once instead of waiting for a writer") {
  Scratch scratch;
  const std::string fifo = scratch / "pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Should a reader block on the FIFO, a writer that connects after 5 s and
  // closes ends the wait, so that the test fails (with another message)
  // instead of hanging.
  std::atomic<bool> done{false};
  std::thread unblock([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (std::chrono::steady_clock::now() < deadline) continue;
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
  });
  for (const auto& [who, read] : readers(fifo)) {
    CAPTURE(who);
    const auto start = std::chrono::steady_clock::now();
    CHECK(message_of(read) == fmt::format("{}: '{}' is a FIFO (named pipe), not a regular file", who, fifo));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  }
  done = true;
  unblock.join();
}

TEST_CASE("every reader refuses a device such as /dev/zero instead of reading it forever") {
  if (!fs::exists("/dev/zero")) {
    MESSAGE("no /dev/zero: skipped");
    return;
  }
  for (const auto& [who, read] : readers("/dev/zero")) {
    CAPTURE(who);
    CHECK(message_of(read) == fmt::format("{}: '/dev/zero' is a character device, not a regular file", who));
  }
}

TEST_CASE("a huge file that is not a model is refused after its header, without reading the rest") {
  Scratch scratch;
  const std::string path = scratch / "huge.adnn";
  { std::ofstream(path, std::ios::binary) << "JUNK, not a model"; }
  // 16 GiB, sparse: reading it whole would exhaust memory.
  std::error_code sparse_failed;
  fs::resize_file(path, std::uintmax_t{1} << 34, sparse_failed);
  if (sparse_failed) {
    MESSAGE("no sparse files here: skipped");
    return;
  }
  CHECK_THROWS_WITH_AS(nn::load(path), Contains("not an .adnn model file"), std::runtime_error);
  nn::Network net = small_network();
  nn::SGD<double> sgd(net.parameters(), 0.1);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, sgd), Contains("not a checkpoint file"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(nn::read_idx(path), Contains("not an IDX file"), std::runtime_error);
}

TEST_CASE("save refuses a layer without neurons, writing nothing") {
  Scratch scratch;
  const std::string path = scratch / "empty-layer.adnn";
  nn::Dense empty(ad::Tensor::zeros(ad::Shape{0, 3}), ad::Tensor::zeros(ad::Shape{0}), {});
  const nn::Network net(std::vector<nn::Dense>{empty});
  CHECK_THROWS_WITH_AS(
      nn::save(net, path),
      Contains(
          fmt::format("nn::save: not saving to '{}': layer 1 has implausible size 3 -> 0", path).c_str()),
      std::invalid_argument);
  CHECK_FALSE(fs::exists(path));
  CHECK(fs::is_empty(scratch.dir));  // no temporary either
}

TEST_CASE("save refuses an unknown activation or Heaviside policy and leaves the previous file as it was") {
  Scratch scratch;
  const std::string path = scratch / "model.adnn";
  nn::save(small_network(), path);
  const std::string before = contents(path);

  std::vector<nn::Activation> codes(3, nn::Activation::tanh);
  codes[1] = static_cast<nn::Activation>(42);
  nn::Dense odd(ad::Tensor::zeros(ad::Shape{3, 2}), ad::Tensor::zeros(ad::Shape{3}), codes);
  CHECK_THROWS_WITH_AS(nn::save(nn::Network(std::vector<nn::Dense>{odd}), path),
                       Contains("layer 1 neuron 1 has an unknown activation code 42"), std::invalid_argument);

  nn::Network policy = small_network();
  policy.layers()[0].set_heaviside_gradient(static_cast<nn::HeavisideGradient>(9));
  CHECK_THROWS_WITH_AS(nn::save(policy, path), Contains("layer 1 has an unknown Heaviside gradient policy 9"),
                       std::invalid_argument);
  CHECK(contents(path) == before);
}

TEST_CASE("saving through a symbolic link replaces the file it points to and keeps the link") {
  Scratch scratch;
  fs::create_directories(scratch.dir / "models");
  const std::string target = scratch / "models/real.adnn";
  const std::string link = scratch / "latest.adnn";
  fs::create_symlink("models/real.adnn", link);  // relative, as `ln -s` makes them
  nn::save(small_network(1), link);              // a dangling link: the target is created
  CHECK(fs::is_symlink(link));
  REQUIRE(fs::is_regular_file(target));
  nn::save(small_network(2), link);
  CHECK(fs::is_symlink(link));
  CHECK(fs::read_symlink(link) == "models/real.adnn");
  CHECK(nn::load(target).flat_parameters() == small_network(2).flat_parameters());
  CHECK(nn::load(link).flat_parameters() == small_network(2).flat_parameters());
  CHECK(std::distance(fs::directory_iterator(scratch.dir / "models"), fs::directory_iterator{}) == 1);
}

TEST_CASE("saving over a file keeps its permissions; a new file gets 0644 less the umask") {
  Scratch scratch;
  const std::string path = scratch / "private.adnn";
  nn::save(small_network(), path);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  nn::save(small_network(2), path);
  CHECK(mode_of(path) == 0600);
  nn::Network net = small_network();
  nn::SGD<double> sgd(net.parameters(), 0.1);
  nn::TrainingState state;
  std::ostringstream rng;
  rng << std::mt19937_64(3);
  state.rng = rng.str();
  const std::string checkpoint = scratch / "run.adck";
  nn::save_checkpoint(checkpoint, net, sgd, state);
  REQUIRE(::chmod(checkpoint.c_str(), 0640) == 0);
  nn::save_checkpoint(checkpoint, net, sgd, state);
  CHECK(mode_of(checkpoint) == 0640);

  const mode_t old_mask = ::umask(027);
  nn::save(small_network(), scratch / "new.adnn");
  ::umask(old_mask);
  CHECK(mode_of(scratch / "new.adnn") == 0640);
}

TEST_CASE("saving over a directory is refused, naming the path") {
  Scratch scratch;
  const std::string folder = scratch / "taken";
  fs::create_directories(folder);
  CHECK(message_of([&] { nn::save(small_network(), folder); }) ==
        fmt::format("nn::save: cannot replace '{}': it is a directory, not a regular file", folder));
  CHECK(fs::is_directory(folder));
}

TEST_CASE("a save removes the temporaries that killed saves to the same path left, and nothing else") {
  Scratch scratch;
  const std::string path = scratch / "model.adnn";
  const pid_t gone = dead_pid();
  const std::string stale = fmt::format("{}.tmp-{}-3", path, gone);
  const std::string live = fmt::format("{}.tmp-{}-0", path, ::getppid());  // a running process's save
  const std::string other_file = fmt::format("{}.tmp-{}-0", scratch / "other.adnn", gone);
  const std::string not_ours = fmt::format("{}.tmp-{}-x", path, gone);
  for (const std::string& name : {stale, live, other_file, not_ours}) std::ofstream(name) << "half a model";
  nn::save(small_network(), path);
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));
  CHECK(fs::exists(other_file));
  CHECK(fs::exists(not_ours));
  CHECK(nn::load(path).depth() == 2);
}
