// Compressed answers for the clients that accept them. The vantage6 client and nodes (Python
// requests) and browsers all send `Accept-Encoding: gzip`; a page of tasks shrinks to a tenth of
// its size, and it is the bytes that take the time, on a network and on loopback alike.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dq::kernel {

/// Bodies smaller than this leave as they are: they fit one packet anyway.
inline constexpr std::size_t kCompressFrom = 1024;

/// Whether an Accept-Encoding value accepts gzip (RFC 9110 12.5.3): `gzip` (or `x-gzip`) named
/// with a weight above 0, or `*` above 0 when gzip is not named.
bool acceptsGzip(std::string_view acceptEncoding);

/// `text` as a gzip stream; `level` as zlib's: 1 is the fastest, 9 the smallest.
std::string gzipped(std::string_view text, int level);

} // namespace dq::kernel
