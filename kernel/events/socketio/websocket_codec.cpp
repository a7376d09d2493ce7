// Frame decoding works on whatever bytes have arrived so that one stalled client never blocks the
// thread that serves every other connection.
#include "kernel/events/socketio/websocket_codec.h"

namespace dq::kernel::socketio {

namespace {

bool isControl(std::uint8_t opcode) {
    return opcode >= 0x8;
}

bool isKnown(std::uint8_t opcode) {
    return opcode == 0x0 || opcode == 0x1 || opcode == 0x2 || opcode == 0x8 || opcode == 0x9 || opcode == 0xA;
}

} // namespace

std::optional<WebSocketMessage> WebSocketDecoder::next() {
    for (;;) {
        if (buffer_.size() < 2)
            return std::nullopt;
        const auto b0 = static_cast<std::uint8_t>(buffer_[0]);
        const auto b1 = static_cast<std::uint8_t>(buffer_[1]);
        const bool fin = b0 & 0x80;
        const std::uint8_t opcode = b0 & 0x0F;
        const bool masked = b1 & 0x80;
        if (b0 & 0x70)
            throw WebSocketViolation{1002, "reserved bits set (no extension was negotiated)"};
        if (!isKnown(opcode))
            throw WebSocketViolation{1002, "unknown opcode " + std::to_string(opcode)};
        if (!masked)
            throw WebSocketViolation{1002, "client frames must be masked"};

        std::size_t header = 2;
        std::uint64_t length = b1 & 0x7F;
        if (length == 126) {
            if (buffer_.size() < 4)
                return std::nullopt;
            length = (std::uint64_t(std::uint8_t(buffer_[2])) << 8) | std::uint8_t(buffer_[3]);
            header = 4;
        } else if (length == 127) {
            if (buffer_.size() < 10)
                return std::nullopt;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | std::uint8_t(buffer_[2 + i]);
            header = 10;
        }
        if (isControl(opcode) && (length > 125 || !fin))
            throw WebSocketViolation{1002, "control frames must be short and unfragmented"};
        // Checked on the header, before the payload arrives: an announced giant is refused at once.
        if (length > maxMessageBytes_ || fragments_.size() + length > maxMessageBytes_)
            throw WebSocketViolation{1009,
                                     "message larger than " + std::to_string(maxMessageBytes_) + " bytes"};
        header += 4;
        if (buffer_.size() < header + length)
            return std::nullopt;

        std::string payload = buffer_.substr(header, length);
        const char* mask = buffer_.data() + header - 4;
        for (std::size_t i = 0; i < payload.size(); ++i)
            payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
        buffer_.erase(0, header + length);

        if (isControl(opcode))
            return WebSocketMessage{static_cast<WebSocketOpcode>(opcode), std::move(payload)};
        if (opcode == 0x0) {
            if (!fragmentOpcode_)
                throw WebSocketViolation{1002, "continuation frame without a message to continue"};
            fragments_ += payload;
            if (!fin)
                continue;
            WebSocketMessage message{*fragmentOpcode_, std::move(fragments_)};
            fragments_.clear();
            fragmentOpcode_.reset();
            return message;
        }
        if (fragmentOpcode_)
            throw WebSocketViolation{1002, "new message before the fragmented one ended"};
        if (!fin) {
            fragmentOpcode_ = static_cast<WebSocketOpcode>(opcode);
            fragments_ = std::move(payload);
            continue;
        }
        return WebSocketMessage{static_cast<WebSocketOpcode>(opcode), std::move(payload)};
    }
}

std::string encodeWebSocketFrame(WebSocketOpcode opcode, const std::string& payload) {
    std::string frame;
    frame.reserve(payload.size() + 10);
    frame.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode)));
    const std::uint64_t length = payload.size();
    if (length < 126) {
        frame.push_back(static_cast<char>(length));
    } else if (length <= 0xFFFF) {
        frame.push_back(static_cast<char>(126));
        frame.push_back(static_cast<char>((length >> 8) & 0xFF));
        frame.push_back(static_cast<char>(length & 0xFF));
    } else {
        frame.push_back(static_cast<char>(127));
        for (int i = 7; i >= 0; --i)
            frame.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
    }
    frame += payload;
    return frame;
}

std::string encodeWebSocketClose(std::uint16_t code, const std::string& reason) {
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload += reason.substr(0, 120);
    return encodeWebSocketFrame(WebSocketOpcode::Close, payload);
}

} // namespace dq::kernel::socketio
