// Fuzzes the authentication handshake (net/handshake.h) through socketpairs.
//
// Modes (first input byte):
//   server, client: one real Handshake reads the input as its peer's bytes,
//     delivered in input-chosen pieces. Garbage must never authenticate, and
//     the machine must never read past the two messages it expects.
//   relay: a real client and a real server talk through a relay that cuts
//     the streams into input-chosen pieces and may flip input-chosen bytes,
//     with possibly different secrets or purposes on the two sides. Both
//     sides finish exactly when nothing was altered and they agree on secret
//     and purpose; the client never finishes unless the server did.
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "fuzz_util.h"
#include "net/auth.h"
#include "net/handshake.h"

namespace {

using namespace strata;
using fuzz::Input;
using net::Handshake;

constexpr const char* kName = "fuzz_handshake";
constexpr size_t kMsg = Handshake::kMessageBytes;
// What one side reads from its peer in a whole handshake.
constexpr size_t kReadLimit = 2 * kMsg;

enum Mode : uint8_t { kServer, kClient, kRelay, kModes };

net::Secret secretOf(uint8_t salt) {
  net::Secret s;
  for (size_t i = 0; i < s.bytes.size(); ++i) s.bytes[i] = static_cast<uint8_t>(i * 29 + salt);
  return s;
}

net::Purpose purposeOf(uint8_t v) {
  // Mostly the real purposes, sometimes a value no endpoint uses.
  return static_cast<net::Purpose>(v % 4 == 0 ? 0x1000u + v : 1u + v % 3);
}

struct Pair {
  int fd[2] = {-1, -1};
  Pair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) {
      fuzz::fail(kName, "socketpair failed");
    }
  }
  ~Pair() {
    close(fd[0]);
    close(fd[1]);
  }
};

int pending(int fd) {
  int n = 0;
  ioctl(fd, FIONREAD, &n);
  return n;
}

// Reads and drops whatever is waiting on fd.
void drain(int fd) {
  char buf[512];
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

void oneSide(Input& in, Handshake::Role role) {
  net::Purpose purpose = purposeOf(in.u8());
  uint8_t split = in.u8();  // 0: deliver everything at once; else seeds the piece sizes
  std::string stream = in.take(16 * kMsg);
  Pair p;
  Handshake hs(role, secretOf(0), purpose);
  if (!hs.start().ok()) return;
  uint32_t rng = split;
  size_t sent = 0;
  for (int round = 0; round < 1000; ++round) {
    size_t piece = stream.size() - sent;
    if (split != 0 && piece > 0) {
      rng = rng * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, 1 + (rng >> 16) % 96);
    }
    bool last = piece == stream.size() - sent;
    if (piece > 0) {
      ssize_t w = send(p.fd[1], stream.data() + sent, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<size_t>(w);
      last = sent == stream.size();
    }
    if (last) shutdown(p.fd[1], SHUT_WR);
    Status s = hs.progress(p.fd[0]);
    // Only what arrived may have been consumed, and never more than two messages.
    size_t consumed = sent - static_cast<size_t>(pending(p.fd[0]));
    FUZZ_CHECK(kName, consumed <= kReadLimit);
    if (!s.ok()) return;
    // Garbage cannot hold the proof for this side's fresh nonce.
    FUZZ_CHECK(kName, !hs.done());
    drain(p.fd[1]);
    if (last) break;
  }
}

// Moves up to `piece` bytes from one endpoint to the other, flipping bytes
// of the stream at the offsets in `flips`. Returns the bytes moved.
size_t relay(int from, int to, size_t piece, size_t* offset,
             const std::map<size_t, uint8_t>& flips, bool* altered) {
  uint8_t buf[4 * kMsg];
  if (piece > sizeof buf) piece = sizeof buf;
  ssize_t n = recv(from, buf, piece, MSG_DONTWAIT);
  if (n <= 0) return 0;
  for (ssize_t i = 0; i < n; ++i) {
    auto f = flips.find(*offset + static_cast<size_t>(i));
    if (f != flips.end() && f->second != 0) {
      buf[i] ^= f->second;
      *altered = true;
    }
  }
  ssize_t w = send(to, buf, static_cast<size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w != n) fuzz::fail(kName, "relay could not forward a whole piece");
  *offset += static_cast<size_t>(n);
  return static_cast<size_t>(n);
}

void relayed(Input& in) {
  uint8_t flags = in.u8();
  bool sameSecret = (flags & 1) == 0;
  net::Purpose clientPurpose = purposeOf(in.u8());
  net::Purpose serverPurpose = (flags & 2) == 0 ? clientPurpose : purposeOf(in.u8());
  bool samePurpose = clientPurpose == serverPurpose;
  // Bytes to flip (offset -> xor mask) on the client->server and
  // server->client streams; two flips of one byte combine.
  std::map<size_t, uint8_t> toServer, toClient;
  int nflips = in.u8() % 4;
  for (int i = 0; i < nflips; ++i) {
    uint8_t where = in.u8();
    size_t offset = in.u8() % (2 * kMsg);
    uint8_t mask = in.u8();
    ((where & 1) ? toClient : toServer)[offset] ^= mask;
  }
  std::string pieces = in.rest();

  Pair c, s;  // client <-> relay, relay <-> server
  Handshake client(Handshake::Role::kClient, secretOf(0), clientPurpose);
  Handshake server(Handshake::Role::kServer, secretOf(sameSecret ? 0 : 1), serverPurpose);
  if (!client.start().ok() || !server.start().ok()) return;
  bool clientFailed = false, serverFailed = false, altered = false;
  size_t upOffset = 0, downOffset = 0, pieceAt = 0;
  for (int round = 0; round < 1000; ++round) {
    if (!clientFailed && !client.done()) clientFailed = !client.progress(c.fd[0]).ok();
    size_t piece = pieceAt < pieces.size() ? 1 + static_cast<uint8_t>(pieces[pieceAt++]) % 64
                                           : 4 * kMsg;
    size_t up = relay(c.fd[1], s.fd[1], piece, &upOffset, toServer, &altered);
    if (!serverFailed && !server.done()) serverFailed = !server.progress(s.fd[0]).ok();
    size_t down = relay(s.fd[1], c.fd[1], piece, &downOffset, toClient, &altered);
    FUZZ_CHECK(kName, upOffset - static_cast<size_t>(pending(s.fd[0])) <= kReadLimit);
    FUZZ_CHECK(kName, downOffset - static_cast<size_t>(pending(c.fd[0])) <= kReadLimit);
    // Nothing in flight: the next round could not change anything.
    if (round > 0 && up == 0 && down == 0) break;
  }
  bool honest = !altered && sameSecret && samePurpose;
  bool bothDone = client.done() && server.done();
  if (honest) {
    FUZZ_CHECK(kName, bothDone && !clientFailed && !serverFailed);
  } else {
    FUZZ_CHECK(kName, !bothDone);
  }
  if (client.done()) FUZZ_CHECK(kName, server.done());
}

// The bytes a real client sends to a server that answers with its own
// messages, recorded through a relay: valid framing, stale proofs.
std::string recordedClientStream() {
  Pair c, s;
  Handshake client(Handshake::Role::kClient, secretOf(0), net::Purpose::kTcpData);
  Handshake server(Handshake::Role::kServer, secretOf(0), net::Purpose::kTcpData);
  if (!client.start().ok() || !server.start().ok()) return std::string();
  std::string recorded;
  for (int round = 0; round < 16 && !(client.done() && server.done()); ++round) {
    (void)client.progress(c.fd[0]);
    char buf[4 * kMsg];
    ssize_t n = recv(c.fd[1], buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      recorded.append(buf, static_cast<size_t>(n));
      (void)!send(s.fd[1], buf, static_cast<size_t>(n), MSG_NOSIGNAL);
    }
    (void)server.progress(s.fd[0]);
    n = recv(s.fd[1], buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) (void)!send(c.fd[1], buf, static_cast<size_t>(n), MSG_NOSIGNAL);
  }
  return recorded;
}

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  std::string stream = recordedClientStream();
  // Purpose byte 2 selects kTcpData (1 + 2 % 3).
  out.push_back(fuzz::SeedWriter().u8(kServer).u8(2).str() + stream);
  out.push_back(fuzz::SeedWriter().u8(kClient).u8(2).str() + stream.substr(0, kMsg));
  out.push_back(fuzz::SeedWriter().u8(kRelay).u8(0).u8(1).u8(0).str());
  // Relay with flips: one byte of each stream.
  fuzz::SeedWriter flips;
  flips.u8(kRelay).u8(0).u8(2).u8(2).u8(0).u8(20).u8(0x40).u8(1).u8(70).u8(1);
  out.push_back(flips.str());
  out.push_back(fuzz::SeedWriter().u8(kRelay).u8(1).u8(3).u8(0).u8(48).u8(5).str());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initTarget(kName, seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Input in(data + 1, size - 1);
  switch (data[0] % kModes) {
    case kServer: oneSide(in, Handshake::Role::kServer); break;
    case kClient: oneSide(in, Handshake::Role::kClient); break;
    case kRelay: relayed(in); break;
  }
  return 0;
}
