// Bootstrap: how ranks that hold the same unique id find each other.
//
// ncclGetUniqueId makes a random secret and starts a root service (a thread
// of the calling process) listening on one address; both go into the id. Each
// rank connects to the root, proves it holds the secret, and sends its rank,
// the world size and the address of its own bootstrap listener. When all
// ranks have arrived the root sends every rank the table of listeners and
// exits. After that, ranks talk directly: tagged point-to-point messages over
// authenticated connections, and collectives (allgather, barrier) built on
// them. Every message has a versioned header and a bounded length; every
// wait has a deadline and honours the abort flag.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "core/status.h"
#include "net/auth.h"
#include "net/socket.h"

namespace strata::bootstrap {

inline constexpr size_t kUniqueIdBytes = 128;
// Upper bound on one bootstrap message's payload.
inline constexpr size_t kMaxMessageBytes = 64u << 20;

struct UniqueId {
  net::Address root;
  net::Secret secret;
  uint64_t nonce = 0;  // random; distinguishes communicators made from different ids

  void encode(uint8_t out[kUniqueIdBytes]) const;
  // Validates magic, version and the address; InvalidArgument if malformed.
  static StatusOr<UniqueId> decode(const uint8_t in[kUniqueIdBytes]);
  std::string toHex() const;
  static StatusOr<UniqueId> fromHex(const std::string& hex);
};

// New id with a fresh secret; starts the root service in this process. The
// root binds STRATA_COMM_ID if set, else port 0 on the first usable interface.
StatusOr<UniqueId> createUniqueId();
// Starts the root service for an id whose address and secret were chosen
// elsewhere (initialising from a launcher's environment: rank 0 calls this).
Status startRoot(const UniqueId& id);

struct Options {
  std::chrono::milliseconds timeout{300000};
  const AbortFlag* abort = nullptr;
};

class Bootstrap {
 public:
  static StatusOr<std::unique_ptr<Bootstrap>> create(const UniqueId& id, int rank, int nranks,
                                                     const Options& options);
  virtual ~Bootstrap() = default;

  virtual int rank() const = 0;
  virtual int nranks() const = 0;
  virtual const net::Secret& secret() const = 0;
  // Equal on all ranks of one communicator; differs between ids.
  virtual uint64_t commHash() const = 0;
  // The interface address this rank's listener is bound to; transports bind
  // their own listeners on the same interface.
  virtual const net::Address& localAddress() const = 0;

  // Messages from one peer with one tag arrive in the order they were sent.
  virtual Status send(int peer, uint32_t tag, const void* data, size_t bytes) = 0;
  // Waits for the next message from `peer` with `tag`; its length must be `bytes`.
  virtual Status recv(int peer, uint32_t tag, void* data, size_t bytes) = 0;
  // data holds nranks slots of bytesPerRank; this rank's slot is filled in.
  virtual Status allGather(void* data, size_t bytesPerRank) = 0;
  virtual StatusOr<std::vector<std::string>> allGatherStrings(const std::string& mine) = 0;
  virtual Status barrier() = 0;
  // Makes current and future waits fail promptly.
  virtual void abort() = 0;
};

}  // namespace strata::bootstrap
