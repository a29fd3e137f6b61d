// Helpers shared by the fuzz targets: a cursor over the fuzzer's input, a
// check that aborts with a message (so libFuzzer records the input), and the
// seed writer. Each target's LLVMFuzzerInitialize calls initTarget(), which
// quiets the library's log and, when STRATA_FUZZ_WRITE_SEEDS names a
// directory, writes the target's seeds (valid encodings made with the real
// encoders) there and exits.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace strata::fuzz {

// Reads the input front to back; past its end every read yields zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}

  uint8_t u8() { return pos_ < n_ ? p_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return u32() | (static_cast<uint64_t>(u32()) << 32); }
  // Exactly n bytes into out, zero-padded past the end of the input.
  void fill(uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = u8();
  }
  // At most n bytes (fewer at the end of the input).
  std::string take(size_t n) {
    size_t k = n < n_ - pos_ ? n : n_ - pos_;
    std::string s(reinterpret_cast<const char*>(p_ + pos_), k);
    pos_ += k;
    return s;
  }
  std::string rest() { return take(n_ - pos_); }
  size_t left() const { return n_ - pos_; }
  bool empty() const { return pos_ >= n_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// Appends fixed-width little-endian fields, for building seeds.
class SeedWriter {
 public:
  SeedWriter& u8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  SeedWriter& u16(uint16_t v) {
    return u8(static_cast<uint8_t>(v)).u8(static_cast<uint8_t>(v >> 8));
  }
  SeedWriter& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v)).u16(static_cast<uint16_t>(v >> 16));
  }
  SeedWriter& u64(uint64_t v) {
    return u32(static_cast<uint32_t>(v)).u32(static_cast<uint32_t>(v >> 32));
  }
  SeedWriter& bytes(const void* p, size_t n) {
    s_.append(static_cast<const char*>(p), n);
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

[[noreturn]] inline void fail(const char* target, const char* what) {
  std::fprintf(stderr, "%s: property violated: %s\n", target, what);
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(target, cond)                       \
  do {                                                 \
    if (!(cond)) ::strata::fuzz::fail(target, #cond); \
  } while (0)

inline void initTarget(const char* name, const std::function<std::vector<std::string>()>& seeds) {
  // Rejected inputs log warnings; thousands per second would drown the fuzzer.
  setenv("STRATA_DEBUG", "NONE", 0);
  const char* dir = std::getenv("STRATA_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  std::string path(dir);
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    mkdir(path.substr(0, at).c_str(), 0755);
  }
  mkdir(dir, 0755);
  std::vector<std::string> all = seeds();
  for (size_t i = 0; i < all.size(); ++i) {
    std::string file = path + "/" + name + "-" + std::to_string(i);
    FILE* f = std::fopen(file.c_str(), "wb");
    if (f == nullptr || std::fwrite(all[i].data(), 1, all[i].size(), f) != all[i].size()) {
      std::fprintf(stderr, "%s: cannot write %s\n", name, file.c_str());
      std::exit(1);
    }
    std::fclose(f);
  }
  std::printf("%s: wrote %zu seeds to %s\n", name, all.size(), dir);
  std::exit(0);
}

}  // namespace strata::fuzz
