// The root service behind createUniqueId/startRoot, private to src/bootstrap.
#pragma once

#include "core/status.h"
#include "net/auth.h"
#include "net/socket.h"

namespace strata::bootstrap {

// Starts the root on a detached thread that owns `listener` and everything
// it accepts. It exits once every rank has its table, or after STRATA_TIMEOUT.
// The thread shares no locks with the rest of the library, so a process may
// fork after starting it and the children may become ranks.
Status launchRoot(net::Socket listener, const net::Secret& secret);

}  // namespace strata::bootstrap
