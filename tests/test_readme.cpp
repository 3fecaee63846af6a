// The README's code examples are the files in tests/readme/ (built and run as
// tests): each ```cpp block marked "mirrored in tests/readme/NAME" must be
// that file, character for character, so the README cannot drift from code
// that compiles.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("every mirrored README example is exactly the compiled file") {
  const std::string readme = read(AD_SOURCE_DIR "/README.md");
  const std::string marker = "<!-- mirrored in ";
  int found = 0;
  for (std::size_t at = readme.find(marker); at != std::string::npos; at = readme.find(marker, at + 1)) {
    const std::size_t name_begin = at + marker.size();
    const std::string file = readme.substr(name_begin, readme.find(',', name_begin) - name_begin);
    const std::size_t code_begin = readme.find("```cpp\n", at) + 7;
    const std::string block = readme.substr(code_begin, readme.find("```", code_begin) - code_begin);
    CAPTURE(file);
    CHECK(block == read(std::string(AD_SOURCE_DIR "/") + file));
    ++found;
  }
  CHECK(found >= 3);  // the scalar, network and module examples
}
