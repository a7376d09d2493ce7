// `vserver smtp test --to ADDRESS`: one mail through the configured server, synchronously, so the
// operator sees at once whether the smtp settings work.
#include "smtp.h"

#include <ostream>

namespace dq::plugins::smtp {

namespace {

int sendTest(sdk::CommandContext& ctx) {
    auto to = ctx.option("to");
    if (!to || to->empty())
        throw std::runtime_error("smtp test: give the address to send to with --to ADDRESS");
    auto config = configFrom(ctx.services().settings());
    // One attempt with the configured timeout: the operator wants the first error, not a retry loop.
    try {
        deliver(config, {*to, "Test mail from dataquality-server",
                         "This is a test mail. The smtp settings of the server work.\n"});
    } catch (const std::exception& e) {
        ctx.err() << "Could not send a test mail to " << *to << ": " << e.what() << "\n";
        return 1;
    }
    ctx.out() << "Sent a test mail to " << *to << " through " << config.endpoint()
              << (config.useTls ? " (STARTTLS)" : " (no TLS)") << ".\n";
    return 0;
}

} // namespace

void declareCommands(sdk::Registry& registry) {
    registry.command({{"smtp", "test"},
                      "Send a test mail with the configured smtp settings and report the outcome",
                      {{"to", "address to send the test mail to", false, true, ""}},
                      "",
                      sendTest});
}

} // namespace dq::plugins::smtp
