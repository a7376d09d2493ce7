// Packet parsing is strict: anything a real client would not send is refused, so the caller can
// close the connection instead of guessing.
#include "kernel/events/socketio/packet.h"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <cctype>
#include <sstream>

namespace dq::kernel::socketio {

std::optional<SocketPacket> parseSocketPacket(const std::string& text) {
    if (text.empty() || text[0] < '0' || text[0] > '6')
        return std::nullopt;
    SocketPacket packet;
    packet.type = static_cast<SocketType>(text[0]);
    if (packet.type == SocketType::BinaryEvent || packet.type == SocketType::BinaryAck)
        return std::nullopt;
    std::size_t pos = 1;
    if (pos < text.size() && text[pos] == '/') {
        auto comma = text.find(',', pos);
        packet.nsp = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? text.size() : comma + 1;
    }
    std::size_t digits = pos;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
        ++digits;
    if (digits > pos) {
        if (digits - pos > 15)
            return std::nullopt;
        packet.ackId = std::stoll(text.substr(pos, digits - pos));
        pos = digits;
    }
    if (pos < text.size()) {
        try {
            Poco::JSON::Parser parser;
            packet.data = parser.parse(text.substr(pos));
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return packet;
}

std::string encodeSocketPacket(SocketType type, const std::string& nsp, const std::string& json,
                               std::optional<long long> ackId) {
    std::string out(1, static_cast<char>(EngineType::Message));
    out.push_back(static_cast<char>(type));
    if (nsp != "/") {
        out += nsp;
        out.push_back(',');
    }
    if (ackId)
        out += std::to_string(*ackId);
    out += json;
    return out;
}

std::string toJson(const Poco::Dynamic::Var& value) {
    if (value.isEmpty())
        return "null";
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

std::string encodeEvent(const std::string& nsp, const std::string& event, const Poco::Dynamic::Var& payload) {
    std::string json = "[" + toJson(Poco::Dynamic::Var(event));
    if (!payload.isEmpty())
        json += "," + toJson(payload);
    json += "]";
    return encodeSocketPacket(SocketType::Event, nsp, json);
}

std::vector<std::string> splitPayload(const std::string& payload) {
    std::vector<std::string> packets;
    std::size_t start = 0;
    for (;;) {
        auto end = payload.find(kRecordSeparator, start);
        packets.push_back(payload.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    return packets;
}

} // namespace dq::kernel::socketio
