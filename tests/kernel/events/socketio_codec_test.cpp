// WebSocket frames and Socket.IO packets as the event channel reads and writes them.
#include "kernel/events/socketio/packet.h"
#include "kernel/events/socketio/websocket_codec.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

using namespace dq::kernel::socketio;

namespace {

/// A client frame: masked, as RFC 6455 requires of clients.
std::string clientFrame(std::uint8_t firstByte, const std::string& payload, bool masked = true) {
    std::string frame(1, static_cast<char>(firstByte));
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    std::uint8_t maskBit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
        frame.push_back(static_cast<char>(maskBit | payload.size()));
    } else {
        frame.push_back(static_cast<char>(maskBit | 126));
        frame.push_back(static_cast<char>(payload.size() >> 8));
        frame.push_back(static_cast<char>(payload.size() & 0xFF));
    }
    if (masked)
        frame.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        frame.push_back(masked ? static_cast<char>(payload[i] ^ mask[i % 4]) : payload[i]);
    return frame;
}

TEST(WebSocketDecoder, DecodesMaskedTextFrame) {
    WebSocketDecoder decoder(1000);
    auto frame = clientFrame(0x81, "42/tasks,[\"ping\"]");
    decoder.feed(frame.data(), frame.size());
    auto message = decoder.next();
    ASSERT_TRUE(message);
    EXPECT_EQ(message->opcode, WebSocketOpcode::Text);
    EXPECT_EQ(message->payload, "42/tasks,[\"ping\"]");
    EXPECT_FALSE(decoder.next());
}

TEST(WebSocketDecoder, WaitsForBytesThatHaveNotArrived) {
    WebSocketDecoder decoder(100000);
    auto frame = clientFrame(0x81, std::string(300, 'x'));
    decoder.feed(frame.data(), 3);
    EXPECT_FALSE(decoder.next());
    decoder.feed(frame.data() + 3, frame.size() - 3);
    auto message = decoder.next();
    ASSERT_TRUE(message);
    EXPECT_EQ(message->payload.size(), 300u);
}

TEST(WebSocketDecoder, JoinsFragmentsAndPassesControlFramesBetweenThem) {
    WebSocketDecoder decoder(1000);
    auto bytes = clientFrame(0x01, "hel") + clientFrame(0x89, "p") + clientFrame(0x80, "lo");
    decoder.feed(bytes.data(), bytes.size());
    auto ping = decoder.next();
    ASSERT_TRUE(ping);
    EXPECT_EQ(ping->opcode, WebSocketOpcode::Ping);
    auto text = decoder.next();
    ASSERT_TRUE(text);
    EXPECT_EQ(text->payload, "hello");
}

TEST(WebSocketDecoder, RefusesUnmaskedClientFrames) {
    WebSocketDecoder decoder(1000);
    auto frame = clientFrame(0x81, "hello", false);
    decoder.feed(frame.data(), frame.size());
    try {
        decoder.next();
        FAIL() << "an unmasked frame was accepted";
    } catch (const WebSocketViolation& v) {
        EXPECT_EQ(v.closeCode, 1002);
    }
}

TEST(WebSocketDecoder, RefusesOversizedMessageOnItsHeaderAlone) {
    WebSocketDecoder decoder(1000);
    std::string header = {static_cast<char>(0x82), static_cast<char>(0xFF)};
    for (int i = 7; i >= 0; --i)
        header.push_back(static_cast<char>(((100ull << 20) >> (8 * i)) & 0xFF));
    decoder.feed(header.data(), header.size());
    try {
        decoder.next();
        FAIL() << "a 100 MB frame was waited for";
    } catch (const WebSocketViolation& v) {
        EXPECT_EQ(v.closeCode, 1009);
    }
}

TEST(WebSocketDecoder, RefusesFragmentsThatAddUpPastTheLimit) {
    WebSocketDecoder decoder(10);
    auto bytes = clientFrame(0x01, "123456") + clientFrame(0x80, "789012");
    decoder.feed(bytes.data(), bytes.size());
    EXPECT_THROW(decoder.next(), WebSocketViolation);
}

TEST(WebSocketDecoder, RefusesUnknownOpcodesAndStrayContinuations) {
    WebSocketDecoder unknown(1000);
    auto frame = clientFrame(0x83, "x");
    unknown.feed(frame.data(), frame.size());
    EXPECT_THROW(unknown.next(), WebSocketViolation);
    WebSocketDecoder stray(1000);
    frame = clientFrame(0x80, "x");
    stray.feed(frame.data(), frame.size());
    EXPECT_THROW(stray.next(), WebSocketViolation);
}

TEST(WebSocketEncoder, WritesUnmaskedFramesWithExtendedLengths) {
    auto small = encodeWebSocketFrame(WebSocketOpcode::Text, "3probe");
    EXPECT_EQ(small, std::string("\x81\x06", 2) + "3probe");
    auto medium = encodeWebSocketFrame(WebSocketOpcode::Text, std::string(300, 'a'));
    EXPECT_EQ(static_cast<std::uint8_t>(medium[1]), 126);
    EXPECT_EQ(medium.size(), 4u + 300u);
    auto large = encodeWebSocketFrame(WebSocketOpcode::Text, std::string(70000, 'a'));
    EXPECT_EQ(static_cast<std::uint8_t>(large[1]), 127);
    EXPECT_EQ(large.size(), 10u + 70000u);
    auto close = encodeWebSocketClose(1009, "too big");
    EXPECT_EQ(static_cast<std::uint8_t>(close[0]), 0x88);
    EXPECT_EQ(static_cast<std::uint8_t>(close[2]) << 8 | static_cast<std::uint8_t>(close[3]), 1009);
}

TEST(SocketPacket, ParsesEventWithNamespaceAckIdAndData) {
    auto p = parseSocketPacket("2/tasks,12[\"node_info_update\",{\"encryption\":false}]");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type, SocketType::Event);
    EXPECT_EQ(p->nsp, "/tasks");
    EXPECT_EQ(p->ackId, 12);
    auto args = p->data.extract<Poco::JSON::Array::Ptr>();
    EXPECT_EQ(args->getElement<std::string>(0), "node_info_update");
}

TEST(SocketPacket, ParsesConnectWithAndWithoutAuth) {
    auto withAuth = parseSocketPacket("0/tasks,{\"token\":\"abc\"}");
    ASSERT_TRUE(withAuth);
    EXPECT_EQ(withAuth->type, SocketType::Connect);
    EXPECT_EQ(withAuth->data.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("token"), "abc");
    auto bare = parseSocketPacket("0/tasks,");
    ASSERT_TRUE(bare);
    EXPECT_TRUE(bare->data.isEmpty());
    auto root = parseSocketPacket("0");
    ASSERT_TRUE(root);
    EXPECT_EQ(root->nsp, "/");
}

TEST(SocketPacket, RefusesGarbageAndBinaryPackets) {
    EXPECT_FALSE(parseSocketPacket(""));
    EXPECT_FALSE(parseSocketPacket("9"));
    EXPECT_FALSE(parseSocketPacket("2/tasks,[\"x\""));
    EXPECT_FALSE(parseSocketPacket("51-/tasks,[\"x\",{\"_placeholder\":true,\"num\":0}]"));
    EXPECT_FALSE(parseSocketPacket("2/tasks,1234567890123456789[\"x\"]"));
}

TEST(SocketPacket, EncodesEventsAsEngineMessages) {
    EXPECT_EQ(encodeEvent("/tasks", "new_task", Poco::Dynamic::Var(5)), "42/tasks,[\"new_task\",5]");
    EXPECT_EQ(encodeEvent("/tasks", "expired_token", Poco::Dynamic::Var()), "42/tasks,[\"expired_token\"]");
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("result_id", 3);
    EXPECT_EQ(encodeEvent("/tasks", "status_update", body), "42/tasks,[\"status_update\",{\"result_id\":3}]");
    EXPECT_EQ(encodeSocketPacket(SocketType::Ack, "/tasks", "[]", 7), "43/tasks,7[]");
    EXPECT_EQ(encodeSocketPacket(SocketType::Disconnect, "/tasks"), "41/tasks,");
}

TEST(SocketPacket, SplitsPollingPayloadsOnTheRecordSeparator) {
    auto packets = splitPayload("2\x1e"
                                "40/tasks,\x1e"
                                "3");
    ASSERT_EQ(packets.size(), 3u);
    EXPECT_EQ(packets[1], "40/tasks,");
}

} // namespace
