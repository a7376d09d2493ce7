// Engine.IO v4 and Socket.IO v5 text packets: `4` + `2/tasks,12["event",{...}]` and friends.
// Binary attachments are not supported (no vantage6 event carries them).
#pragma once

#include <Poco/Dynamic/Var.h>
#include <optional>
#include <string>
#include <vector>

namespace dq::kernel::socketio {

/// Engine.IO packet types (the first character of a packet).
enum class EngineType : char {
    Open = '0',
    Close = '1',
    Ping = '2',
    Pong = '3',
    Message = '4',
    Upgrade = '5',
    Noop = '6',
};

/// Socket.IO packet types (the first character of an Engine.IO message).
enum class SocketType : char {
    Connect = '0',
    Disconnect = '1',
    Event = '2',
    Ack = '3',
    ConnectError = '4',
    BinaryEvent = '5',
    BinaryAck = '6',
};

struct SocketPacket {
    SocketType type = SocketType::Event;
    std::string nsp = "/";
    std::optional<long long> ackId;
    Poco::Dynamic::Var data; ///< parsed JSON; empty when the packet has none
};

/// Engine.IO long-polling payloads separate packets with the record separator.
inline constexpr char kRecordSeparator = '\x1e';

/// Parses the Socket.IO packet inside an Engine.IO message; nullopt when it is malformed.
std::optional<SocketPacket> parseSocketPacket(const std::string& text);
/// The Engine.IO message (leading '4') carrying this Socket.IO packet; `json` is already encoded.
std::string encodeSocketPacket(SocketType type, const std::string& nsp, const std::string& json = "",
                               std::optional<long long> ackId = std::nullopt);
/// `42/nsp,["event",payload]` as an Engine.IO message.
std::string encodeEvent(const std::string& nsp, const std::string& event, const Poco::Dynamic::Var& payload);
/// Compact JSON of any Var (objects, arrays, strings, numbers; empty → null).
std::string toJson(const Poco::Dynamic::Var& value);

std::vector<std::string> splitPayload(const std::string& payload);

} // namespace dq::kernel::socketio
