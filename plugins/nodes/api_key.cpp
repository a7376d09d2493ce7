// Node API keys: random UUIDs, stored as a bcrypt hash plus an HMAC-SHA256 prefix that finds the
// candidate node without bcrypt-checking every node (vantage6 does, which costs ~0.25 s per node).
#include "nodes.h"

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>
#include <Poco/UUIDGenerator.h>

namespace dq::plugins::nodes {

using namespace dq::sdk;

namespace {

/// Poco's HMACEngine needs the block and digest sizes as members, which SHA2Engine does not declare.
class Sha256Engine : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256Engine() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

} // namespace

std::string newApiKey() {
    return Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
}

std::string apiKeyIndex(const std::string& pepper, const std::string& apiKey) {
    Poco::HMACEngine<Sha256Engine> hmac(pepper);
    hmac.update(apiKey);
    return Poco::DigestEngine::digestToHex(hmac.digest()).substr(0, 16);
}

Record apiKeyColumns(Passwords& passwords, const std::string& pepper, const std::string& apiKey) {
    Record columns;
    columns.set("api_key", passwords.hash(apiKey)).set("api_key_index", apiKeyIndex(pepper, apiKey));
    return columns;
}

void replaceApiKey(Store& store, Id node, const Record& columns) {
    store.update("node", node, columns);
    store.execute("UPDATE node SET credential_version = COALESCE(credential_version, 0) + 1 WHERE id = ?",
                  {node});
}

std::optional<Record> nodeByApiKey(RequestContext& ctx, const std::string& pepper,
                                   const std::string& apiKey) {
    const std::string index = apiKeyIndex(pepper, apiKey);
    auto candidates = ctx.store().select("node", Query().add(Condition::equal("api_key_index", index)));
    // Nodes whose key was set without an index (an older import) are checked one by one and get
    // their index on the first successful login.
    for (auto& node : ctx.store().select("node", Query().add(Condition::isNull("api_key_index"))))
        if (!node.isNull("api_key"))
            candidates.push_back(std::move(node));
    // bcrypt runs without a database session.
    ctx.commit();
    for (const auto& node : candidates) {
        if (!ctx.services().passwords().verify(apiKey, node.text("api_key")))
            continue;
        if (node.isNull("api_key_index"))
            ctx.store().update("node", node.id, Record().set("api_key_index", index));
        // Read again: the key may have been replaced while bcrypt ran.
        auto current = ctx.store().find("node", node.id);
        if (current && current->text("api_key") == node.text("api_key"))
            return current;
        return std::nullopt;
    }
    return std::nullopt;
}

std::string pepperFrom(Services& services) {
    const auto& settings = services.settings();
    if (settings.has("api_key_pepper") && !settings.text("api_key_pepper").empty())
        return settings.text("api_key_pepper");
    return kDefaultPepper;
}

} // namespace dq::plugins::nodes
