// The settings registry: every STRATA_* variable (and the NCCL_* names Strata
// honours) is declared once in config.cc with its type, default and a line of
// documentation. Code reads settings only through these functions; tools/
// strata-info prints the whole table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata::config {

enum class SettingType { kInt, kBool, kString };

struct Setting {
  const char* name;          // STRATA_* name, the one documented
  const char* ncclAlias;     // NCCL_* name also honoured, or nullptr
  SettingType type;
  const char* defaultValue;  // as text
  const char* doc;
};

const std::vector<Setting>& allSettings();

// Lookups read the environment each time (STRATA_ name first, then the NCCL_
// alias). Unknown names are a programming error and abort in tests.
int64_t getInt(const char* name);
bool getBool(const char* name);
std::string getString(const char* name);
// True when the variable (or its alias) is set in the environment.
bool isSet(const char* name);

}  // namespace strata::config
