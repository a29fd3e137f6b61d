#include "transports/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>

#include "core/log.h"

namespace strata::transport {
namespace {

// Segments larger than this are a configuration mistake, not a request.
constexpr uint64_t kMaxSegmentBytes = 1ull << 40;

StatusOr<size_t> segmentBytes(uint32_t nfifos, const FifoLayout& layout) {
  uint64_t stride = layout.strideBytes();
  if (nfifos != 0 && stride > (kMaxSegmentBytes - kSegmentHeaderBytes) / nfifos) {
    return InvalidArgument("shared memory segment of ", nfifos, " FIFOs of ", layout.nslots,
                           " x ", layout.slotBytes, " bytes is too large");
  }
  return static_cast<size_t>(kSegmentHeaderBytes + stride * nfifos);
}

std::mutex& registryMutex() {
  static std::mutex mu;
  return mu;
}

std::map<uint64_t, std::weak_ptr<Segment>>& registry() {
  static auto* map = new std::map<uint64_t, std::weak_ptr<Segment>>();
  return *map;
}

}  // namespace

Status Segment::initHeader(int rank, uint32_t nfifos, const FifoLayout& layout) {
  auto* h = reinterpret_cast<SegmentHeader*>(base_);
  h->magic = kSegmentMagic;
  h->version = kSegmentVersion;
  h->rank = rank;
  h->pid = static_cast<int64_t>(getpid());
  h->totalBytes = bytes_;
  h->nfifos = nfifos;
  h->nslots = layout.nslots;
  h->slotBytes = layout.slotBytes;
  h->strideBytes = layout.strideBytes();
  return Status::Ok();
}

StatusOr<std::shared_ptr<Segment>> Segment::createPrivate(int rank, uint32_t nfifos,
                                                          const FifoLayout& layout) {
  STRATA_ASSIGN_OR_RETURN(size_t bytes, segmentBytes(nfifos, layout));
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return ErrnoError(strCat("mmap of a ", bytes, "-byte segment"), errno);
  std::shared_ptr<Segment> seg(new Segment());
  seg->base_ = static_cast<char*>(p);
  seg->bytes_ = bytes;
  seg->owner_ = true;
  STRATA_RETURN_IF_ERROR(seg->initHeader(rank, nfifos, layout));
  return seg;
}

StatusOr<std::shared_ptr<Segment>> Segment::createShared(const std::string& name, int rank,
                                                         uint32_t nfifos,
                                                         const FifoLayout& layout) {
  STRATA_ASSIGN_OR_RETURN(size_t bytes, segmentBytes(nfifos, layout));
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(strCat("shm_open(", name, ")"), errno);
  std::shared_ptr<Segment> seg(new Segment());
  seg->fd_ = fd;
  seg->shared_ = true;
  seg->owner_ = true;
  seg->linked_ = true;
  seg->name_ = name;
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    return ErrnoError(strCat("ftruncate of shm segment ", name, " to ", bytes, " bytes"), errno);
  }
  // The header page is touched now; reserve it so a full /dev/shm fails here.
  int rc = posix_fallocate(fd, 0, static_cast<off_t>(kSegmentHeaderBytes));
  if (rc != 0) {
    return ErrnoError(strCat("reserving shm segment ", name, " (is /dev/shm full?)"), rc);
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoError(strCat("mmap of shm segment ", name), errno);
  seg->base_ = static_cast<char*>(p);
  seg->bytes_ = bytes;
  STRATA_RETURN_IF_ERROR(seg->initHeader(rank, nfifos, layout));
  STRATA_INFO(log::kShm, "rank ", rank, ": shm segment ", name, " of ", bytes, " bytes, ",
              nfifos, " FIFOs");
  return seg;
}

StatusOr<std::shared_ptr<Segment>> Segment::openShared(const std::string& name, int expectRank,
                                                       int64_t expectPid) {
  if (!isValidSegmentName(name)) return InvalidArgument("malformed shm segment name");
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return ErrnoError(strCat("shm_open(", name, ") of rank ", expectRank), errno);
  std::shared_ptr<Segment> seg(new Segment());
  seg->fd_ = fd;
  seg->shared_ = true;
  seg->name_ = name;
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(strCat("fstat of shm segment ", name), errno);
  auto size = static_cast<uint64_t>(st.st_size);
  if (size < kSegmentHeaderBytes || size > kMaxSegmentBytes) {
    return RemoteError("shm segment ", name, " of rank ", expectRank, " has a bad size ", size);
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoError(strCat("mmap of shm segment ", name), errno);
  seg->base_ = static_cast<char*>(p);
  seg->bytes_ = size;
  const SegmentHeader& h = seg->header();
  FifoLayout layout{h.nslots, h.slotBytes};
  bool geometryOk = h.nslots > 0 && h.nslots <= 65536 && h.slotBytes > 0 &&
                    h.slotBytes % kCacheLine == 0 && h.slotBytes <= (1ull << 32) &&
                    h.strideBytes == layout.strideBytes() && h.totalBytes == size;
  if (geometryOk) {
    auto want = segmentBytes(h.nfifos, layout);
    geometryOk = want.ok() && want.value() == size;
  }
  if (h.magic != kSegmentMagic || h.version != kSegmentVersion || h.rank != expectRank ||
      h.pid != expectPid || !geometryOk) {
    return RemoteError("shm segment ", name, " does not hold a valid segment of rank ", expectRank);
  }
  return seg;
}

Segment::~Segment() {
  if (localKey_ != 0) {
    std::lock_guard<std::mutex> lock(registryMutex());
    registry().erase(localKey_);
  }
  unlink();
  if (base_ != nullptr) munmap(base_, bytes_);
  if (fd_ >= 0) close(fd_);
}

FifoLayout Segment::layout() const { return FifoLayout{header().nslots, header().slotBytes}; }

StatusOr<FifoView> Segment::fifo(uint32_t index) {
  const SegmentHeader& h = header();
  if (index >= h.nfifos) {
    return InternalError("FIFO ", index, " out of range (segment of rank ", h.rank, " has ",
                         h.nfifos, ")");
  }
  return FifoView(base_ + kSegmentHeaderBytes + static_cast<size_t>(index) * h.strideBytes,
                  layout());
}

Status Segment::reserveFifo(uint32_t index) {
  if (!shared_ || fd_ < 0) return Status::Ok();
  const SegmentHeader& h = header();
  if (index >= h.nfifos) return InternalError("FIFO ", index, " out of range");
  off_t off = static_cast<off_t>(kSegmentHeaderBytes + static_cast<size_t>(index) * h.strideBytes);
  int rc = posix_fallocate(fd_, off, static_cast<off_t>(h.strideBytes));
  if (rc != 0) {
    return ErrnoError(strCat("reserving ", h.strideBytes, " bytes of shm segment ", name_,
                             " (is /dev/shm full?)"),
                      rc);
  }
  return Status::Ok();
}

namespace {

// Maps [p, p + bytes) into this process with MADV_POPULATE_WRITE (Linux
// 5.14). Older kernels refuse it and the pages fault in on first use, as
// they always did. (Reading each page instead could raise SIGBUS on a full
// /dev/shm, where this call returns an error.)
void populate(char* p, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto first = reinterpret_cast<uintptr_t>(p) / page * page;
  auto end = (reinterpret_cast<uintptr_t>(p) + bytes + page - 1) / page * page;
  if (end > first) madvise(reinterpret_cast<void*>(first), end - first, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace

void Segment::populateFifo(uint32_t index) {
  const SegmentHeader& h = header();
  if (index >= h.nfifos) return;
  populate(base_ + kSegmentHeaderBytes + static_cast<size_t>(index) * h.strideBytes,
           h.strideBytes);
}

StatusOr<char*> Segment::rawRegion(uint32_t index, size_t bytes) {
  const SegmentHeader& h = header();
  if (index >= h.nfifos) return InternalError("FIFO ", index, " out of range");
  if (bytes > h.strideBytes) {
    return InternalError("a region of ", bytes, " bytes does not fit a FIFO of ", h.strideBytes);
  }
  size_t off = kSegmentHeaderBytes + static_cast<size_t>(index) * h.strideBytes;
  if (shared_ && fd_ >= 0) {
    int rc = posix_fallocate(fd_, static_cast<off_t>(off), static_cast<off_t>(bytes));
    if (rc != 0) {
      return ErrnoError(strCat("reserving ", bytes, " bytes of shm segment ", name_,
                               " (is /dev/shm full?)"),
                        rc);
    }
  }
  populate(base_ + off, bytes);
  return base_ + off;
}

void Segment::unlink() {
  if (owner_ && linked_) {
    shm_unlink(name_.c_str());
    linked_ = false;
  }
}

void Segment::registerLocal(uint64_t key, const std::shared_ptr<Segment>& segment) {
  std::lock_guard<std::mutex> lock(registryMutex());
  registry()[key] = segment;
  segment->localKey_ = key;
}

std::shared_ptr<Segment> Segment::findLocal(uint64_t key) {
  std::lock_guard<std::mutex> lock(registryMutex());
  auto it = registry().find(key);
  return it == registry().end() ? nullptr : it->second.lock();
}

std::string makeSegmentName(uint64_t commHash, int rank, uint64_t random) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "/strata-%016" PRIx64 "-r%d-%016" PRIx64, commHash, rank,
                random);
  return buf;
}

bool isValidSegmentName(const std::string& name) {
  static const std::string prefix = "/strata-";
  if (name.size() <= prefix.size() || name.size() > 80) return false;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace strata::transport
