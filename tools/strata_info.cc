// strata-info: what this build of Strata is and every setting it reads,
// with its current value.
#include <cstdio>
#include <string>

#include "core/config.h"
#include "cuda/runtime.h"
#include "kernels/host/reduce.h"
#include "net/socket.h"
#include "strata.h"
#include "transports/manager.h"

int main() {
  std::printf("Strata %s\n", strataGetVersionString());
  std::printf("host reduction kernels: %s\n", strata::kernels::reduceImplName());
  {
    strata::Status dev = strata::cuda::deviceExecutionAvailable();
    std::printf("cuda: %s, %d device(s); device buffers: %s\n",
                strata::cuda::builtWithCuda() ? "built" : "not built", strata::cuda::deviceCount(),
                dev.ok() ? "enabled (STRATA_CUDA=0 turns it off)" : dev.message().c_str());
  }
  std::printf("host identity: %s\n", strata::transport::hostIdentity().c_str());
  auto ifs = strata::net::findInterfaces();
  if (ifs.ok()) {
    for (const auto& i : ifs.value()) {
      std::printf("interface: %s %s\n", i.name.c_str(), i.address.toString().c_str());
    }
  } else {
    std::printf("interfaces: %s\n", ifs.status().toString().c_str());
  }
  std::printf("\n%-28s %-8s %-10s %-12s %s\n", "setting", "type", "default", "value", "meaning");
  for (const auto& s : strata::config::allSettings()) {
    const char* type = s.type == strata::config::SettingType::kInt    ? "int"
                       : s.type == strata::config::SettingType::kBool ? "bool"
                                                                      : "string";
    std::string value = strata::config::isSet(s.name) ? strata::config::getString(s.name) : "-";
    std::string doc = s.doc;
    if (s.ncclAlias) doc += std::string(" (also ") + s.ncclAlias + ")";
    std::printf("%-28s %-8s %-10s %-12s %s\n", s.name, type,
                *s.defaultValue ? s.defaultValue : "\"\"", value.c_str(), doc.c_str());
  }
  return 0;
}
