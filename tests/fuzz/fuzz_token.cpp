// The token verifier. First byte even: the rest is a token as a client sends it. Odd: the rest is a
// claims object, signed with the server's own secret, so the claim checks behind the signature are
// reached too (a signed token whose `exp` is a string was a 500).
#include "kernel/auth/token_service.h"
#include "oracle.h"

#include <Poco/JSON/Parser.h>
#include <cstdint>

using namespace dq;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static kernel::TokenService tokens({"fuzz-secret", 3600, 7200});
    if (size == 0)
        return 0;
    std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string token = rest;
    if (data[0] % 2 == 1) {
        Poco::JSON::Object::Ptr claims;
        try {
            auto parsed = Poco::JSON::Parser().parse(rest);
            if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
                return 0;
            claims = parsed.extract<Poco::JSON::Object::Ptr>();
        } catch (const Poco::Exception&) {
            return 0;
        }
        token = tokens.issuePurpose("fuzz", claims, 3600);
    }
    DQ_FUZZ_AS_REQUEST({
        auto verified = tokens.verify(token);
        // What the request path reads next: the subject as an id, or as a container identity.
        auto sub = verified.claims->get("sub");
        sdk::integerValue(sub, sdk::kIdRange);
    });
    DQ_FUZZ_AS_REQUEST(tokens.verifyPurpose("fuzz", token));
    return 0;
}
