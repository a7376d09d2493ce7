// The JSON body reader: any bytes as a request body, every accessor on every field it has.
#include "oracle.h"

#include <cstdint>

using dq::sdk::JsonBody;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    dq::sdk::Request request;
    request.method = dq::sdk::Method::Post;
    request.contentType = "application/json";
    request.body.assign(reinterpret_cast<const char*>(data), size);
    DQ_FUZZ_AS_REQUEST({
        JsonBody probe(request);
        for (const auto& name : probe.object()->getNames()) {
            JsonBody body(probe.object());
            body.text(name);
            body.integer(name);
            body.integer(name, JsonBody::Need::Required, {1, 65535});
            body.id(name);
            body.ids(name);
            body.boolean(name);
            body.dateTime(name);
            body.value(name);
            dq::sdk::integerValue(probe.object()->get(name), dq::sdk::kIdRange);
            try {
                body.done();
            } catch (const dq::sdk::BadRequest& e) {
                // A refused field must be named.
                if (e.errors().empty())
                    __builtin_trap();
            }
        }
        JsonBody(request).done();
    });
    return 0;
}
