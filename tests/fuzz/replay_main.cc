// Runs a libFuzzer entry point over files named on the command line (seed
// corpus replay) plus a fixed set of deterministic mutations of each: every
// truncation length in a coarse grid and single-byte flips. Used where the
// build is not instrumented for libFuzzer; exits non-zero on a missing file.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 2;
    }
    std::vector<uint8_t> seed((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
    ++runs;
    size_t step = seed.size() / 64 + 1;
    for (size_t len = 0; len < seed.size(); len += step) {
      std::vector<uint8_t> cut(seed.begin(), seed.begin() + len);
      LLVMFuzzerTestOneInput(cut.data(), cut.size());
      ++runs;
    }
    for (size_t pos = 0; pos < seed.size(); pos += step) {
      std::vector<uint8_t> flipped = seed;
      flipped[pos] ^= 0xff;
      LLVMFuzzerTestOneInput(flipped.data(), flipped.size());
      ++runs;
    }
  }
  std::printf("replay: %zu inputs, no crash\n", runs);
  return 0;
}
