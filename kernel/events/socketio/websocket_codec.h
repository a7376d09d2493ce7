// RFC 6455 frames for a server that does its own non-blocking I/O: decodes client frames from a
// byte buffer as they trickle in, and encodes server frames. Limits are checked before payloads are read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace dq::kernel::socketio {

enum class WebSocketOpcode : std::uint8_t {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

/// A whole message (fragments joined) or a control frame.
struct WebSocketMessage {
    WebSocketOpcode opcode = WebSocketOpcode::Text;
    std::string payload;
};

/// Why a connection must be closed, with the close code to send (1002 protocol, 1009 too big).
struct WebSocketViolation {
    std::uint16_t closeCode = 1002;
    std::string reason;
};

class WebSocketDecoder {
public:
    explicit WebSocketDecoder(std::size_t maxMessageBytes) : maxMessageBytes_(maxMessageBytes) {}

    /// Appends received bytes.
    void feed(const char* data, std::size_t size) { buffer_.append(data, size); }
    /// The next complete message, nullopt when more bytes are needed. Throws WebSocketViolation
    /// when the client breaks the protocol (unmasked frame, oversized message, bad opcode, ...).
    std::optional<WebSocketMessage> next();
    /// Bytes received but not yet decoded (a slow or stalled client).
    std::size_t pending() const { return buffer_.size() + fragments_.size(); }

private:
    std::size_t maxMessageBytes_;
    std::string buffer_;
    std::string fragments_;
    std::optional<WebSocketOpcode> fragmentOpcode_;
};

/// A server frame (unmasked, FIN set).
std::string encodeWebSocketFrame(WebSocketOpcode opcode, const std::string& payload);
/// A close frame with status code and reason.
std::string encodeWebSocketClose(std::uint16_t code, const std::string& reason = "");

} // namespace dq::kernel::socketio
