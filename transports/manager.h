// The ConnectionManager owns a rank's transports and its doorbell. At
// communicator creation it publishes this rank's descriptor (host identity,
// process, shm segment, tcp listener) to all ranks through the bootstrap and
// decides, per peer, which transport to use:
//   same process            -> loopback
//   same host, other process -> shm (unless NCCL_SHM_DISABLE)
//   other host              -> tcp
// STRATA_TRANSPORT forces one for every peer. Connections are created on first
// use and cached; send() and recv() do not wait for the peer's executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "bootstrap/bootstrap.h"
#include "core/deadline.h"
#include "core/status.h"
#include "transports/connection.h"
#include "transports/host_window.h"

namespace strata::transport {

struct ManagerOptions {
  int nchannels = 3;  // connection channels per peer (collective channels + p2p)
  std::chrono::milliseconds timeout{300000};
  const AbortFlag* abort = nullptr;
};

class ConnectionManager {
 public:
  // Collective over all ranks of the bootstrap.
  static StatusOr<std::unique_ptr<ConnectionManager>> create(bootstrap::Bootstrap& bootstrap,
                                                             const ManagerOptions& options);
  virtual ~ConnectionManager() = default;

  virtual Doorbell* doorbell() = 0;
  virtual StatusOr<SendConnection*> send(int peer, int channel) = 0;
  virtual StatusOr<RecvConnection*> recv(int peer, int channel) = 0;
  // "loopback", "shm" or "tcp".
  virtual const char* transportFor(int peer) const = 0;
  // Host index of each rank (ranks with the same index share a host).
  virtual int hostOf(int rank) const = 0;
  // The smallest slot any connection of this communicator offers (the same
  // value on every rank), so plans can size their steps to fit one slot.
  virtual size_t minSlotCapacityBytes() const = 0;
  // Slots per FIFO toward `peer`: how many steps may be in flight at once.
  virtual size_t slotsPerConnection(int peer) const = 0;
  // The smallest FIFO capacity (slots x slot bytes) of any connection this
  // manager can create; plan steps are sized from it so that a step's data
  // always fits in flight.
  virtual size_t minFifoCapacityBytes() const = 0;
  // Stops proxy threads' waits and makes connections report failure.
  virtual void abort() = 0;

  // Direct access to a peer's memory, for single-copy collectives between
  // ranks of one host. True when `peer` runs in this process, so its
  // addresses can be used as they are.
  virtual bool sharesAddressSpace(int peer) const = 0;
  // Copies `bytes` from address `remote` of `peer`'s process into `local`:
  // memcpy within a process, process_vm_readv (cross-memory attach) for
  // another process of this host. An error for a peer on another host, a
  // peer that has exited, or when the kernel refuses the access.
  virtual Status readPeer(int peer, uint64_t remote, void* local, size_t bytes) = 0;
  // The local address of `peer`'s bytes [remote, remote + bytes), which lie
  // in the peer's shared host buffer `window` (host_window.h): the address
  // itself for a peer of this process, else the peer's window mapped
  // read-only into this process (cached for later calls).
  virtual StatusOr<const char*> mapPeerWindow(int peer, const WindowRef& window, uint64_t remote,
                                              size_t bytes) = 0;

  // Raw shared memory of one link instead of a FIFO, for protocols that put
  // their flags in the data (the low-latency protocol). `sending`: the
  // mailbox this rank writes to `peer` (in the peer's segment); else the one
  // it reads from `peer` (in its own). Memory peers only; it starts zeroed.
  // A channel used for mailboxes must not also be used through send()/recv().
  struct Mailbox {
    char* base = nullptr;
    size_t bytes = 0;
    Doorbell* peerBell = nullptr;  // ring after writing (sending side)
  };
  virtual StatusOr<Mailbox> mailbox(int peer, int channel, bool sending, size_t bytes) = 0;
  // True when every peer of this rank is reached through memory.
  virtual bool allPeersInMemory() const = 0;
  // True when some peer's connections can send from and receive into the
  // caller's memory (SendConnection::supportsReferences, RecvConnection::
  // supportsTargets): today, peers reached over tcp.
  virtual bool anyZeroCopyPeer() const = 0;
};

// This process's host identity: hostname, boot id and network namespace, so
// emulated hosts (namespaces sharing one kernel) are told apart.
// STRATA_HOST_ID overrides it.
std::string hostIdentity();

}  // namespace strata::transport
