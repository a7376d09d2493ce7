// `vserver shell`: an embedded Python prompt (or script runner) on the configured database, with a
// class per declared model under `db`.
#pragma once

#include "cli/instance.h"

#include <iosfwd>

namespace dq::cli {

int shellCommand(const Arguments& args, std::ostream& out, std::ostream& err);

} // namespace dq::cli
