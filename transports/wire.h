// Byte-order-explicit encoding for what transports put on the wire or into
// the bootstrap (descriptors, tcp hello and part headers). The Reader never
// reads past its buffer: after a short read it stays failed and returns zeros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata::transport::wire {

inline void putU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void putU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t getU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t getU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

class Writer {
 public:
  void u32(uint32_t v) {
    uint8_t b[4];
    putU32(b, v);
    out_.append(reinterpret_cast<const char*>(b), 4);
  }
  void u64(uint64_t v) {
    uint8_t b[8];
    putU64(b, v);
    out_.append(reinterpret_cast<const char*>(b), 8);
  }
  void bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const void* data, size_t n) : p_(static_cast<const uint8_t*>(data)), n_(n) {}

  uint32_t u32() {
    if (!take(4)) return 0;
    return getU32(p_ + pos_ - 4);
  }
  uint64_t u64() {
    if (!take(8)) return 0;
    return getU64(p_ + pos_ - 8);
  }
  bool bytes(void* out, size_t n) {
    if (!take(n)) return false;
    for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(out)[i] = p_[pos_ - n + i];
    return true;
  }
  // A length-prefixed string of at most maxLen bytes.
  std::string str(size_t maxLen) {
    uint32_t len = u32();
    if (!ok_ || len > maxLen || !take(len)) {
      ok_ = false;
      return std::string();
    }
    return std::string(reinterpret_cast<const char*>(p_ + pos_ - len), len);
  }
  bool ok() const { return ok_; }
  bool atEnd() const { return ok_ && pos_ == n_; }

 private:
  bool take(size_t n) {
    if (!ok_ || n > n_ - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace strata::transport::wire
