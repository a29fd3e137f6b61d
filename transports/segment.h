// A rank's segment: its doorbell and the receive FIFOs of every (peer,
// channel) that sends to it through memory. In process memory (anonymous
// mmap) when all such peers share the process, else in a POSIX shm object
// that the senders map. Pages are only touched when used, so a segment sized
// for many FIFOs costs memory only for the FIFOs that carry data.
//
// Layout:
//   [0, 4096)                  SegmentHeader (magic, geometry, owner) with
//                              the owner's Doorbell at offset 64
//   [4096 + i * stride, ...)   FIFO i (see fifo.h), i < nfifos
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "transports/connection.h"
#include "transports/fifo.h"

namespace strata::transport {

inline constexpr uint64_t kSegmentMagic = 0x5354524154415347ull;  // "STRATASG"
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr size_t kSegmentHeaderBytes = kPageBytes;

struct SegmentHeader {
  uint64_t magic;
  uint32_t version;
  int32_t rank;
  int64_t pid;
  uint64_t totalBytes;
  uint32_t nfifos;
  uint32_t nslots;
  uint64_t slotBytes;
  uint64_t strideBytes;
  alignas(kCacheLine) Doorbell bell;
};
static_assert(sizeof(SegmentHeader) <= kSegmentHeaderBytes);

class Segment {
 public:
  // Anonymous process memory (loopback peers only).
  static StatusOr<std::shared_ptr<Segment>> createPrivate(int rank, uint32_t nfifos,
                                                          const FifoLayout& layout);
  // A new POSIX shm object `name` (exclusive create, mode 0600).
  static StatusOr<std::shared_ptr<Segment>> createShared(const std::string& name, int rank,
                                                         uint32_t nfifos, const FifoLayout& layout);
  // Maps another rank's shm segment and validates its header.
  static StatusOr<std::shared_ptr<Segment>> openShared(const std::string& name, int expectRank,
                                                       int64_t expectPid);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const SegmentHeader& header() const { return *reinterpret_cast<SegmentHeader*>(base_); }
  Doorbell* doorbell() { return &reinterpret_cast<SegmentHeader*>(base_)->bell; }
  FifoLayout layout() const;
  uint32_t nfifos() const { return header().nfifos; }
  // FIFO `index`; InternalError when out of range.
  StatusOr<FifoView> fifo(uint32_t index);
  // Reserves the pages of FIFO `index` in the shm object, so that running
  // out of /dev/shm is an error here instead of a SIGBUS on first write.
  Status reserveFifo(uint32_t index);
  // The first `bytes` of FIFO `index`'s memory as raw memory (a mailbox for
  // protocols that put flags in the data), reserved like reserveFifo and
  // populated like populateFifo.
  StatusOr<char*> rawRegion(uint32_t index, size_t bytes);
  // Maps the pages of FIFO `index` into this process now, instead of one
  // page fault at a time as the ring of slots first comes round to them:
  // under virtualisation each such fault costs microseconds, and the first
  // calls that use a connection paid thousands of them. Best effort (the
  // pages fault in as before where the kernel refuses).
  void populateFifo(uint32_t index);
  bool isShared() const { return shared_; }
  const std::string& name() const { return name_; }
  // Removes the shm name (the mappings stay valid). Idempotent.
  void unlink();

  // Segments of ranks in this process, found by key (loopback peers).
  static void registerLocal(uint64_t key, const std::shared_ptr<Segment>& segment);
  static std::shared_ptr<Segment> findLocal(uint64_t key);

 private:
  Segment() = default;
  Status initHeader(int rank, uint32_t nfifos, const FifoLayout& layout);

  char* base_ = nullptr;
  size_t bytes_ = 0;
  int fd_ = -1;  // shm object, kept open for reserveFifo
  bool shared_ = false;
  bool owner_ = false;
  bool linked_ = false;
  std::string name_;
  uint64_t localKey_ = 0;
};

// A valid shm name for the segment of `rank` in communicator `commHash`.
std::string makeSegmentName(uint64_t commHash, int rank, uint64_t random);
// Accepts only names of the form makeSegmentName produces.
bool isValidSegmentName(const std::string& name);

}  // namespace strata::transport
