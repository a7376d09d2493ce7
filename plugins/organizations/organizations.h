// The organizations plugin: the organizations that join collaborations and run nodes.
#pragma once

#include <dq/sdk/plugin.h>

namespace dq::plugins::organizations {

inline constexpr const char* kModel = "organization";
inline constexpr const char* kResource = "organization";

/// The fields a client may set on create and update, all text.
inline const std::vector<std::string> kEditableFields{"name",    "domain",  "address1",  "address2",
                                                      "zipcode", "country", "public_key"};

void declareRoutes(sdk::Registry& registry);
void declareCommands(sdk::Registry& registry);
/// The `organizations:` section of `vserver import` (import_section.cpp).
void declareImportSection(sdk::Registry& registry);

} // namespace dq::plugins::organizations
