// ConnectionManager: publishes this rank's descriptor, decides a transport
// per peer, owns the segment and the tcp transport, and hands out cached
// connections.
//
// Creation (collective):
//   1. read settings, bind the tcp listener, build the descriptor
//   2. allGatherStrings the descriptors; validate; decide every pair's
//      transport (the same answer on every rank)
//   3. create this rank's segment sized for its memory senders; start tcp
//   4. agree (every rank learns whether all got this far)
//   5. map the segments of memory peers, then agree again
//   6. unlink this rank's shm name: every user has it mapped, and nothing is
//      left in /dev/shm if a process dies later
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/config.h"
#include "core/log.h"
#include "net/auth.h"
#include "net/tls.h"
#include "transports/descriptor.h"
#include "transports/manager.h"

#include "net/tls.h"
#include "transports/memory_transport.h"
#include "transports/peer_memory.h"
#include "transports/segment.h"
#include "transports/tcp_transport.h"

namespace strata::transport {
namespace {

enum class Kind { kLoopback, kShm, kTcp };

// How long destruction waits for tcp data posted but not yet sent.
constexpr std::chrono::milliseconds kDrainLimit{10000};

const char* kindName(Kind k) {
  switch (k) {
    case Kind::kLoopback: return "loopback";
    case Kind::kShm: return "shm";
    case Kind::kTcp: return "tcp";
  }
  return "?";
}

struct Settings {
  TransportMode mode = TransportMode::kAuto;
  bool shmDisable = false;
  FifoLayout memory;
  TcpParams tcp;
  int nthreads = 1;
  std::chrono::milliseconds handshakeTimeout{20000};
  bool tls = false;
};

StatusOr<Settings> readSettings() {
  Settings s;
  std::string mode = config::getString("STRATA_TRANSPORT");
  if (mode.empty() || mode == "auto") {
    s.mode = TransportMode::kAuto;
  } else if (mode == "loopback") {
    s.mode = TransportMode::kLoopback;
  } else if (mode == "shm") {
    s.mode = TransportMode::kShm;
  } else if (mode == "tcp") {
    s.mode = TransportMode::kTcp;
  } else {
    return InvalidArgument("STRATA_TRANSPORT=", mode, " is not one of auto, loopback, shm, tcp");
  }
  s.shmDisable = config::getBool("STRATA_SHM_DISABLE");
  s.tls = config::getBool("STRATA_TLS");
  if (s.tls && !net::tlsAvailable()) {
    return InvalidUsage("STRATA_TLS=1, but this build of Strata has no TLS (OpenSSL was not "
                        "found when it was configured; install libssl-dev and rebuild)");
  }
  int64_t memSlot = config::getInt("STRATA_SHM_SLOT_BYTES");
  int64_t memSlots = config::getInt("STRATA_SHM_NSLOTS");
  int64_t tcpSlot = config::getInt("STRATA_TCP_SLOT_BYTES");
  int64_t tcpSlots = config::getInt("STRATA_TCP_NSLOTS");
  int64_t nthreads = config::getInt("STRATA_SOCKET_NTHREADS");
  int64_t perThread = config::getInt("STRATA_NSOCKS_PERTHREAD");
  auto clampSlots = [](int64_t v) { return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, 1 << 30)); };
  auto slotBytes = [](int64_t v) { return v < 0 ? 0 : roundUp(static_cast<uint64_t>(v), kCacheLine); };
  s.memory = FifoLayout{clampSlots(memSlots), static_cast<size_t>(slotBytes(memSlot))};
  s.tcp.nslots = clampSlots(tcpSlots);
  s.tcp.slotBytes = slotBytes(tcpSlot);
  STRATA_RETURN_IF_ERROR_CTX(checkGeometry("shm FIFO", s.memory.nslots, s.memory.slotBytes),
                             "STRATA_SHM_SLOT_BYTES / STRATA_SHM_NSLOTS");
  STRATA_RETURN_IF_ERROR_CTX(checkGeometry("tcp FIFO", s.tcp.nslots, s.tcp.slotBytes),
                             "STRATA_TCP_SLOT_BYTES / STRATA_TCP_NSLOTS");
  if (nthreads < 1 || nthreads > 16) {
    return InvalidArgument("STRATA_SOCKET_NTHREADS=", nthreads, " is outside [1, 16]");
  }
  if (perThread < 1 || nthreads * perThread > kMaxSockets) {
    return InvalidArgument("STRATA_NSOCKS_PERTHREAD=", perThread, " with STRATA_SOCKET_NTHREADS=",
                           nthreads, " gives a socket count outside [1, ", kMaxSockets, "]");
  }
  s.nthreads = static_cast<int>(nthreads);
  s.tcp.nsocks = static_cast<uint32_t>(nthreads * perThread);
  int64_t hs = config::getInt("STRATA_HANDSHAKE_TIMEOUT_MS");
  s.handshakeTimeout = std::chrono::milliseconds(std::clamp<int64_t>(hs, 1, 3600000));
  return s;
}

// Every rank contributes its status; all return an error if any rank failed.
Status agree(bootstrap::Bootstrap& bs, Status mine, const char* phase) {
  std::string text = mine.ok() ? std::string() : mine.toString();
  auto all = bs.allGatherStrings(text);
  if (!all.ok()) return Status(all.status()).withContext(strCat("while agreeing on ", phase));
  if (!mine.ok()) return mine;
  for (size_t r = 0; r < all.value().size(); ++r) {
    const std::string& t = all.value()[r];
    if (!t.empty()) {
      return RemoteError("rank ", r, " failed during ", phase, ": ", t.substr(0, 512));
    }
  }
  return Status::Ok();
}

class Manager final : public ConnectionManager {
 public:
  ~Manager() override;

  Doorbell* doorbell() override { return own_->doorbell(); }
  StatusOr<SendConnection*> send(int peer, int channel) override;
  StatusOr<RecvConnection*> recv(int peer, int channel) override;
  const char* transportFor(int peer) const override;
  int hostOf(int rank) const override;
  size_t minSlotCapacityBytes() const override { return minSlot_; }
  size_t minFifoCapacityBytes() const override { return minFifo_; }
  size_t slotsPerConnection(int peer) const override;
  void abort() override;
  bool sharesAddressSpace(int peer) const override;
  Status readPeer(int peer, uint64_t remote, void* local, size_t bytes) override;
  StatusOr<const char*> mapPeerWindow(int peer, const WindowRef& window, uint64_t remote,
                                      size_t bytes) override;
  StatusOr<Mailbox> mailbox(int peer, int channel, bool sending, size_t bytes) override;
  bool allPeersInMemory() const override {
    for (Kind k : kinds_) {
      if (k == Kind::kTcp) return false;
    }
    return true;
  }
  bool anyZeroCopyPeer() const override {
    return std::find(kinds_.begin(), kinds_.end(), Kind::kTcp) != kinds_.end();
  }

  Status init(bootstrap::Bootstrap& bs, const ManagerOptions& options);

 private:
  Status decide(const Settings& settings);
  Kind kindOf(int a, int b) const;
  bool isMemory(int a, int b) const { return kindOf(a, b) != Kind::kTcp; }
  // Position of `sender` among the memory senders of `receiver`.
  int memoryIndex(int sender, int receiver) const;
  int memorySenders(int receiver) const;
  Status mapPeers();
  Status checkArgs(int peer, int channel) const;

  int rank_ = 0;
  int nranks_ = 0;
  int nchannels_ = 0;
  std::vector<RankDescriptor> descs_;
  std::vector<Kind> kinds_;  // toward each peer
  std::vector<int> hostIndex_;
  std::vector<int> processIndex_;
  size_t minSlot_ = 0;
  size_t minFifo_ = 0;
  std::chrono::milliseconds timeout_{0};
  AbortState abort_;
  std::shared_ptr<Segment> own_;
  std::vector<std::shared_ptr<Segment>> peerSegments_;
  std::vector<std::unique_ptr<PeerProcess>> watch_;
  std::unique_ptr<TcpTransport> tcp_;
  std::vector<std::unique_ptr<PeerWindows>> windows_;  // per peer, made on first use
  std::mutex sendMu_;
  std::mutex recvMu_;
  std::vector<SendConnection*> sends_;
  std::vector<RecvConnection*> recvs_;
  std::vector<std::unique_ptr<SendConnection>> ownedSends_;
  std::vector<std::unique_ptr<RecvConnection>> ownedRecvs_;
};

Manager::~Manager() {
  // Slots posted just before destruction still go out (memory FIFOs already
  // hold theirs; tcp ones may still sit in the proxy's queue).
  if (tcp_ != nullptr && !abort_.aborted()) tcp_->drain(std::min(timeout_, kDrainLimit));
  abort_.local.store(true);
  ownedSends_.clear();
  ownedRecvs_.clear();
  tcp_.reset();  // joins the proxy and accept threads
  watch_.clear();
  peerSegments_.clear();
  own_.reset();
}

Kind Manager::kindOf(int a, int b) const {
  if (a == b) return Kind::kLoopback;
  const RankDescriptor& da = descs_[a];
  TransportMode mode = da.mode;  // equal on all ranks (checked)
  bool sameProcess = processIndex_[a] == processIndex_[b];
  bool sameHost = hostIndex_[a] == hostIndex_[b];
  switch (mode) {
    case TransportMode::kLoopback: return Kind::kLoopback;
    case TransportMode::kShm: return Kind::kShm;  // every peer shares the host (checked)
    case TransportMode::kTcp: return Kind::kTcp;
    case TransportMode::kAuto: break;
  }
  if (sameProcess) return Kind::kLoopback;
  if (sameHost && !da.shmDisable) return Kind::kShm;
  return Kind::kTcp;
}

int Manager::memoryIndex(int sender, int receiver) const {
  int index = 0;
  for (int s = 0; s < sender; ++s) index += isMemory(s, receiver) ? 1 : 0;
  return index;
}

int Manager::memorySenders(int receiver) const { return memoryIndex(nranks_, receiver); }

Status Manager::decide(const Settings& settings) {
  // Host and process indices: first appearance order.
  hostIndex_.assign(nranks_, 0);
  processIndex_.assign(nranks_, 0);
  std::vector<int> hostFirst, processFirst;
  for (int r = 0; r < nranks_; ++r) {
    const RankDescriptor& d = descs_[r];
    int h = -1;
    for (size_t i = 0; i < hostFirst.size() && h < 0; ++i) {
      if (descs_[hostFirst[i]].hostId == d.hostId) h = static_cast<int>(i);
    }
    if (h < 0) {
      h = static_cast<int>(hostFirst.size());
      hostFirst.push_back(r);
    }
    hostIndex_[r] = h;
    int p = -1;
    for (size_t i = 0; i < processFirst.size() && p < 0; ++i) {
      const RankDescriptor& o = descs_[processFirst[i]];
      if (hostIndex_[processFirst[i]] == h && o.process.pid == d.process.pid &&
          o.process.pidNamespace == d.process.pidNamespace && o.processToken == d.processToken) {
        p = static_cast<int>(i);
      }
    }
    if (p < 0) {
      p = static_cast<int>(processFirst.size());
      processFirst.push_back(r);
    }
    processIndex_[r] = p;
  }
  // A forced transport must reach every peer of this rank.
  for (int p = 0; p < nranks_; ++p) {
    if (p == rank_) continue;
    bool sameProcess = processIndex_[p] == processIndex_[rank_];
    bool sameHost = hostIndex_[p] == hostIndex_[rank_];
    if (settings.mode == TransportMode::kLoopback && !sameProcess) {
      return InvalidArgument("STRATA_TRANSPORT=loopback, but rank ", p,
                             " is in another process (loopback only connects ranks of one process)");
    }
    if (settings.mode == TransportMode::kShm && !sameHost) {
      return InvalidArgument("STRATA_TRANSPORT=shm, but rank ", p, " is on another host (",
                             descs_[p].hostId, " vs ", descs_[rank_].hostId, ")");
    }
  }
  kinds_.resize(nranks_);
  for (int p = 0; p < nranks_; ++p) kinds_[p] = kindOf(rank_, p);
  // The smallest slot and FIFO in use anywhere: identical on every rank.
  minSlot_ = SIZE_MAX;
  minFifo_ = SIZE_MAX;
  for (int r = 0; r < nranks_; ++r) {
    const RankDescriptor& d = descs_[r];
    // Every rank receives from itself through memory.
    minSlot_ = std::min(minSlot_, d.memory.slotBytes);
    minFifo_ = std::min(minFifo_, d.memory.slotBytes * d.memory.nslots);
    for (int s = 0; s < nranks_; ++s) {
      if (kindOf(s, r) == Kind::kTcp) {
        minSlot_ = std::min<size_t>(minSlot_, d.tcp.slotBytes);
        minFifo_ = std::min<size_t>(minFifo_, d.tcp.slotBytes * d.tcp.nslots);
        break;
      }
    }
  }
  return Status::Ok();
}

Status Manager::init(bootstrap::Bootstrap& bs, const ManagerOptions& options) {
  rank_ = bs.rank();
  nranks_ = bs.nranks();
  nchannels_ = options.nchannels;
  timeout_ = options.timeout;
  abort_.external = options.abort;
  if (nchannels_ < 1 || nchannels_ > 1024) {
    return InvalidArgument("nchannels=", nchannels_, " is outside [1, 1024]");
  }
  STRATA_ASSIGN_OR_RETURN(Settings settings, readSettings());

  RankDescriptor mine;
  mine.rank = rank_;
  mine.nranks = nranks_;
  mine.nchannels = nchannels_;
  mine.mode = settings.mode;
  mine.shmDisable = settings.shmDisable;
  mine.tls = settings.tls;
  mine.hostId = hostIdentity().substr(0, kMaxHostIdBytes);
  mine.process = selfProcessInfo();
  mine.processToken = processToken();
  uint64_t random[2] = {0, 0};
  STRATA_RETURN_IF_ERROR(net::randomBytes(random, sizeof(random)));
  mine.localKey = random[0] | 1;
  mine.shmName = makeSegmentName(bs.commHash(), rank_, random[1]);
  mine.memory = settings.memory;
  mine.tcp = settings.tcp;
  if (settings.mode == TransportMode::kAuto || settings.mode == TransportMode::kTcp) {
    auto t = TcpTransport::listen(bs.localAddress());
    if (t.ok()) {
      tcp_ = std::move(t).value();
      mine.hasListener = true;
      mine.listener = tcp_->address();
    } else {
      STRATA_WARN(log::kNet, "rank ", rank_, ": no tcp listener on ",
                  bs.localAddress().toString(), ": ", t.status().message());
    }
  }

  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> all, bs.allGatherStrings(mine.encode()));
  if (static_cast<int>(all.size()) != nranks_) {
    return InternalError("bootstrap gathered ", all.size(), " descriptors for ", nranks_, " ranks");
  }
  Status status;
  descs_.resize(nranks_);
  for (int r = 0; r < nranks_ && status.ok(); ++r) {
    auto d = RankDescriptor::decode(all[r]);
    if (!d.ok()) {
      status = Status(d.status()).withContext(strCat("descriptor of rank ", r));
    } else if (d.value().rank != r || d.value().nranks != nranks_) {
      status = RemoteError("descriptor of rank ", r, " claims rank ", d.value().rank, " of ",
                           d.value().nranks);
    } else if (d.value().nchannels != nchannels_ || d.value().mode != settings.mode ||
               d.value().shmDisable != settings.shmDisable) {
      status = InvalidUsage("rank ", r, " was created with different transport settings ",
                            "(channels, STRATA_TRANSPORT or STRATA_SHM_DISABLE differ)");
    } else if (d.value().tls != settings.tls) {
      status = InvalidUsage("rank ", r, " has STRATA_TLS=", d.value().tls ? 1 : 0,
                            " but this rank has STRATA_TLS=", settings.tls ? 1 : 0,
                            ": all ranks must agree on TLS for tcp connections");
    } else {
      descs_[r] = std::move(d).value();
    }
  }
  // Descriptors are the same everywhere, so these errors are too.
  STRATA_RETURN_IF_ERROR(status);
  Status decided = decide(settings);

  bool anyTcp = false, sharedSegment = false;
  std::vector<bool> tcpPeers(nranks_, false);
  if (decided.ok()) {
    for (int p = 0; p < nranks_; ++p) {
      tcpPeers[p] = kinds_[p] == Kind::kTcp;
      anyTcp |= tcpPeers[p];
      sharedSegment |= kinds_[p] == Kind::kShm;
    }
    if (anyTcp) {
      for (int p = 0; p < nranks_ && decided.ok(); ++p) {
        if (tcpPeers[p] && !descs_[p].hasListener) {
          decided = RemoteError("rank ", p, " must be reached over tcp but has no listener");
        }
      }
    }
  }
  if (decided.ok()) {
    uint32_t nfifos = static_cast<uint32_t>(memorySenders(rank_) * nchannels_);
    auto seg = sharedSegment
                   ? Segment::createShared(descs_[rank_].shmName, rank_, nfifos, settings.memory)
                   : Segment::createPrivate(rank_, nfifos, settings.memory);
    if (seg.ok()) {
      own_ = std::move(seg).value();
      Segment::registerLocal(descs_[rank_].localKey, own_);
    } else {
      decided = seg.status();
    }
  }
  if (decided.ok() && anyTcp && tcp_ == nullptr) {
    decided = SystemError("rank ", rank_, " needs tcp but could not open a listener");
  }
  if (decided.ok() && anyTcp) {
    TcpConfig tc;
    tc.rank = rank_;
    tc.nranks = nranks_;
    tc.nchannels = nchannels_;
    tc.secret = bs.secret();
    tc.commHash = bs.commHash();
    tc.local = settings.tcp;
    tc.nthreads = settings.nthreads;
    tc.timeout = options.timeout;
    tc.handshakeTimeout = settings.handshakeTimeout;
    tc.abort = &abort_;
    tc.bell = own_->doorbell();
    tc.tcpPeers = tcpPeers;
    tc.tls = settings.tls;
    decided = tcp_->start(tc);
  } else if (!anyTcp) {
    tcp_.reset();
  }
  STRATA_RETURN_IF_ERROR(agree(bs, decided, "transport setup"));
  Status mapped = mapPeers();
  STRATA_RETURN_IF_ERROR(agree(bs, mapped, "mapping peer segments"));
  own_->unlink();

  sends_.assign(static_cast<size_t>(nranks_) * nchannels_, nullptr);
  recvs_.assign(static_cast<size_t>(nranks_) * nchannels_, nullptr);
  if (log::enabled(log::Level::kInfo, log::kInit)) {
    std::string summary;
    for (int p = 0; p < nranks_; ++p) summary += strCat(p == 0 ? "" : " ", p, ":", kindName(kinds_[p]));
    STRATA_INFO(log::kInit, "rank ", rank_, "/", nranks_, " host ", hostIndex_[rank_],
                " transports ", summary);
  }
  return Status::Ok();
}

Status Manager::mapPeers() {
  peerSegments_.assign(nranks_, nullptr);
  watch_.resize(nranks_);
  for (int p = 0; p < nranks_; ++p) {
    if (p == rank_ || kinds_[p] == Kind::kTcp) continue;
    const RankDescriptor& d = descs_[p];
    std::shared_ptr<Segment> seg;
    if (kinds_[p] == Kind::kLoopback) {
      seg = Segment::findLocal(d.localKey);
      if (seg == nullptr) return InternalError("the segment of rank ", p, " is not in this process");
    } else {
      STRATA_ASSIGN_OR_RETURN(seg, Segment::openShared(d.shmName, p, d.process.pid));
      watch_[p] = std::make_unique<PeerProcess>(p, d.process);
    }
    const SegmentHeader& h = seg->header();
    if (h.rank != p || h.nslots != d.memory.nslots || h.slotBytes != d.memory.slotBytes ||
        h.nfifos != static_cast<uint32_t>(memorySenders(p) * nchannels_)) {
      return RemoteError("the segment of rank ", p, " does not have the expected geometry");
    }
    peerSegments_[p] = std::move(seg);
  }
  return Status::Ok();
}

Status Manager::checkArgs(int peer, int channel) const {
  if (peer < 0 || peer >= nranks_) return InvalidArgument("peer ", peer, " is not a rank of ", nranks_);
  if (channel < 0 || channel >= nchannels_) {
    return InvalidArgument("channel ", channel, " is outside [0, ", nchannels_, ")");
  }
  return Status::Ok();
}

StatusOr<SendConnection*> Manager::send(int peer, int channel) {
  STRATA_RETURN_IF_ERROR(checkArgs(peer, channel));
  if (abort_.aborted()) return Aborted("connection manager of rank ", rank_);
  std::lock_guard<std::mutex> lock(sendMu_);
  SendConnection*& cached = sends_[static_cast<size_t>(peer) * nchannels_ + channel];
  if (cached != nullptr) return cached;
  if (kinds_[peer] == Kind::kTcp) {
    STRATA_ASSIGN_OR_RETURN(cached, tcp_->connect(peer, channel, descs_[peer].listener,
                                                  descs_[peer].tcp));
    return cached;
  }
  std::shared_ptr<Segment> seg = peer == rank_ ? own_ : peerSegments_[peer];
  auto index = static_cast<uint32_t>(memoryIndex(rank_, peer) * nchannels_ + channel);
  STRATA_RETURN_IF_ERROR(seg->reserveFifo(index));
  STRATA_ASSIGN_OR_RETURN(FifoView fifo, seg->fifo(index));
  seg->populateFifo(index);
  MemoryLinkInfo info;
  info.transportName = kindName(kinds_[peer]);
  info.peer = peer;
  info.channel = channel;
  info.fifo = fifo;
  info.peerBell = seg->doorbell();
  info.keepAlive = seg;
  info.peerProcess = watch_[peer].get();
  info.abort = &abort_;
  ownedSends_.push_back(std::make_unique<MemorySendConnection>(std::move(info)));
  cached = ownedSends_.back().get();
  return cached;
}

StatusOr<RecvConnection*> Manager::recv(int peer, int channel) {
  STRATA_RETURN_IF_ERROR(checkArgs(peer, channel));
  if (abort_.aborted()) return Aborted("connection manager of rank ", rank_);
  std::lock_guard<std::mutex> lock(recvMu_);
  RecvConnection*& cached = recvs_[static_cast<size_t>(peer) * nchannels_ + channel];
  if (cached != nullptr) return cached;
  if (kinds_[peer] == Kind::kTcp) {
    STRATA_ASSIGN_OR_RETURN(cached, tcp_->receiver(peer, channel));
    return cached;
  }
  auto index = static_cast<uint32_t>(memoryIndex(peer, rank_) * nchannels_ + channel);
  STRATA_ASSIGN_OR_RETURN(FifoView fifo, own_->fifo(index));
  own_->populateFifo(index);
  std::shared_ptr<Segment> senderSeg = peer == rank_ ? own_ : peerSegments_[peer];
  MemoryLinkInfo info;
  info.transportName = kindName(kinds_[peer]);
  info.peer = peer;
  info.channel = channel;
  info.fifo = fifo;
  info.peerBell = senderSeg->doorbell();
  info.keepAlive = senderSeg;
  info.peerProcess = watch_[peer].get();
  info.abort = &abort_;
  ownedRecvs_.push_back(std::make_unique<MemoryRecvConnection>(std::move(info)));
  cached = ownedRecvs_.back().get();
  return cached;
}

const char* Manager::transportFor(int peer) const {
  if (peer < 0 || peer >= nranks_) return "none";
  return kindName(kinds_[peer]);
}

int Manager::hostOf(int rank) const {
  if (rank < 0 || rank >= nranks_) return -1;
  return hostIndex_[rank];
}

size_t Manager::slotsPerConnection(int peer) const {
  if (peer < 0 || peer >= nranks_) return 0;
  return kinds_[peer] == Kind::kTcp ? descs_[peer].tcp.nslots : descs_[peer].memory.nslots;
}

StatusOr<ConnectionManager::Mailbox> Manager::mailbox(int peer, int channel, bool sending,
                                                     size_t bytes) {
  STRATA_RETURN_IF_ERROR(checkArgs(peer, channel));
  if (kinds_[peer] == Kind::kTcp) return InvalidUsage("rank ", peer, " is not reached through memory");
  std::shared_ptr<Segment> peerSeg = peer == rank_ ? own_ : peerSegments_[peer];
  // A link's mailbox lives in the receiver's segment, like its FIFO.
  Segment& holder = sending ? *peerSeg : *own_;
  int sender = sending ? rank_ : peer;
  int receiver = sending ? peer : rank_;
  auto index = static_cast<uint32_t>(memoryIndex(sender, receiver) * nchannels_ + channel);
  Mailbox m;
  m.bytes = bytes;
  m.peerBell = peerSeg->doorbell();
  STRATA_ASSIGN_OR_RETURN(m.base, holder.rawRegion(index, bytes));
  return m;
}

bool Manager::sharesAddressSpace(int peer) const {
  if (peer < 0 || peer >= nranks_) return false;
  return processIndex_[peer] == processIndex_[rank_];
}

Status Manager::readPeer(int peer, uint64_t remote, void* local, size_t bytes) {
  if (peer < 0 || peer >= nranks_) return InvalidArgument("peer ", peer, " is not a rank of ", nranks_);
  if (bytes == 0) return Status::Ok();
  if (sharesAddressSpace(peer)) {
    std::memcpy(local, reinterpret_cast<const void*>(static_cast<uintptr_t>(remote)), bytes);
    return Status::Ok();
  }
  if (hostIndex_[peer] != hostIndex_[rank_]) {
    return InvalidUsage("rank ", peer, " is on another host; its memory cannot be read directly");
  }
  Status s = readProcessMemory(descs_[peer].process.pid, remote, local, bytes);
  if (!s.ok()) return s.withContext(strCat("reading the memory of rank ", peer));
  return s;
}

StatusOr<const char*> Manager::mapPeerWindow(int peer, const WindowRef& window, uint64_t remote,
                                             size_t bytes) {
  if (peer < 0 || peer >= nranks_) return InvalidArgument("peer ", peer, " is not a rank of ", nranks_);
  if (sharesAddressSpace(peer)) return reinterpret_cast<const char*>(static_cast<uintptr_t>(remote));
  if (hostIndex_[peer] != hostIndex_[rank_]) {
    return InvalidUsage("rank ", peer, " is on another host; its memory cannot be mapped");
  }
  if (windows_.empty()) windows_.resize(nranks_);
  if (windows_[peer] == nullptr) windows_[peer] = std::make_unique<PeerWindows>(descs_[peer].process.pid);
  auto p = windows_[peer]->resolve(window, remote, bytes);
  if (!p.ok()) {
    Status s = p.status();
    return s.withContext(strCat("reading the shared buffer of rank ", peer));
  }
  return p;
}

void Manager::abort() {
  abort_.local.store(true);
  if (tcp_ != nullptr) tcp_->abort();
  ring(own_->doorbell());
}

}  // namespace

StatusOr<std::unique_ptr<ConnectionManager>> ConnectionManager::create(
    bootstrap::Bootstrap& bootstrap, const ManagerOptions& options) {
  auto m = std::make_unique<Manager>();
  Status s = m->init(bootstrap, options);
  if (!s.ok()) return s.withContext(strCat("creating the connections of rank ", bootstrap.rank()));
  return std::unique_ptr<ConnectionManager>(std::move(m));
}

}  // namespace strata::transport
