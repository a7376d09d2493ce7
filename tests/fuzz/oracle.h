// What counts as a finding: the kernel renders sdk::HttpError as its status (4xx) and anything
// else escaping a request as a 500. So a fuzz target lets every other exception escape, and
// libFuzzer reports it as a crash, with the input that caused it.
#pragma once

#include <dq/sdk/http.h>

#define DQ_FUZZ_AS_REQUEST(...)                                                                              \
    try {                                                                                                    \
        __VA_ARGS__;                                                                                         \
    } catch (const dq::sdk::HttpError& e) {                                                                  \
        if (e.status() >= 500)                                                                               \
            __builtin_trap();                                                                                \
    }
