// GET /vpn and POST /vpn/update (nodes: OpenVPN config from EduVPN) and GET /vpn/algorithm/addresses
// (containers: where the other algorithm containers of their task family listen).
#include "vpn.h"

#include <Poco/String.h>

namespace dq::plugins::vpn {

using sdk::BadRequest;
using sdk::ClientKind;
using sdk::Id;
using sdk::RequestContext;
using sdk::Response;
using sdk::Value;

namespace {

const char* const kNoVpn = "This server does not support VPN";

void requireConfigured(const VpnConfig& config) {
    if (!config.configured())
        throw sdk::NotImplemented(kNoVpn);
}

Response configAnswer(const std::string& ovpn) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("ovpn_config", ovpn);
    return Response::json(body);
}

Response getConfig(RequestContext& ctx, const VpnConfig& config) {
    requireConfigured(config);
    ctx.services().log().information("vpn: node '%s' (id %Ld) asks for a VPN config", ctx.identity().name,
                                     ctx.identity().id);
    return configAnswer(EduVpnClient(config).freshConfig());
}

Response updateConfig(RequestContext& ctx, const VpnConfig& config) {
    requireConfigured(config);
    sdk::JsonBody body(ctx.request());
    auto current = body.text("vpn_config");
    body.done();
    if (!current || current->empty())
        throw BadRequest("vpn_config is missing!");
    ctx.services().log().information("vpn: node '%s' (id %Ld) renews its VPN keypair", ctx.identity().name,
                                     ctx.identity().id);
    return configAnswer(EduVpnClient(config).renewKeypair(*current));
}

/// vantage6 takes any non-empty value as true ("False" included); we take false/0/no as false.
bool flag(const sdk::Request& request, const std::string& name) {
    auto value = request.query(name);
    if (!value)
        return false;
    auto lower = Poco::toLower(Poco::trim(*value));
    return !(lower.empty() || lower == "false" || lower == "0" || lower == "no");
}

std::vector<Id> idsOf(const sdk::Rows& rows) {
    std::vector<Id> out;
    for (const auto& row : rows.rows)
        if (!row.at(0).isEmpty())
            out.push_back(row.at(0).convert<Id>());
    return out;
}

Value orNull(const Value& v, bool integer) {
    if (v.isEmpty())
        return Value();
    return integer ? Value(v.convert<Poco::Int64>()) : Value(v.convert<std::string>());
}

Response addresses(RequestContext& ctx) {
    const auto& request = ctx.request();
    bool onlyChildren = flag(request, "only_children"), onlyParent = flag(request, "only_parent");
    bool includeChildren = flag(request, "include_children"), includeParent = flag(request, "include_parent");
    if (onlyChildren && onlyParent)
        throw BadRequest(
            "Using only_children and only_parent simultaneously is not possible! Specify one or the "
            "other.");
    if (onlyChildren && includeParent)
        throw BadRequest(
            "Using only_children and include_parent simultaneously is not possible! Specify one or "
            "the other.");
    if (onlyParent && includeChildren)
        throw BadRequest(
            "Using only_parent and include_children simultaneously is not possible! Specify one or "
            "the other.");

    const auto& who = ctx.identity();
    if (!who.taskId)
        throw BadRequest("This container token names no task; ask the node for a new container token");
    auto& store = ctx.store();
    const Id task = *who.taskId;

    std::vector<Id> tasks;
    if (!onlyChildren && !onlyParent)
        tasks.push_back(task);
    if (onlyChildren || includeChildren)
        for (Id child :
             idsOf(store.query("SELECT id FROM task WHERE parent_id = ? ORDER BY id", {Value(task)})))
            tasks.push_back(child);
    if (onlyParent || includeParent)
        for (Id parent : idsOf(store.query("SELECT parent_id FROM task WHERE id = ?", {Value(task)})))
            tasks.push_back(parent);

    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    if (!tasks.empty()) {
        std::string sql =
            "SELECT p.port, p.label, n.ip, r.organization_id, r.task_id, t.parent_id"
            " FROM algorithmport p JOIN result r ON r.id = p.result_id JOIN task t ON t.id = r.task_id"
            " LEFT JOIN node n ON n.organization_id = r.organization_id"
            " AND n.collaboration_id = t.collaboration_id WHERE r.task_id IN (";
        std::vector<Value> params;
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            sql += i ? ", ?" : "?";
            params.emplace_back(tasks[i]);
        }
        sql += ")";
        if (auto label = request.query("label"); label && !label->empty()) {
            sql += " AND p.label = ?";
            params.emplace_back(*label);
        }
        sql += " ORDER BY p.id";
        for (const auto& row : store.query(sql, params).rows) {
            Poco::JSON::Object::Ptr address = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            address->set("port", orNull(row.at(0), true));
            address->set("label", orNull(row.at(1), false));
            address->set("ip", orNull(row.at(2), false));
            address->set("organization_id", orNull(row.at(3), true));
            address->set("task_id", orNull(row.at(4), true));
            address->set("parent_id", orNull(row.at(5), true));
            list->add(address);
        }
    }
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("addresses", list);
    return Response::json(body);
}

} // namespace

void declareRoutes(sdk::Registry& registry, std::shared_ptr<const VpnConfig> config) {
    using sdk::Method;
    registry.route(sdk::RouteDecl{Method::Get,
                                  "/vpn",
                                  {ClientKind::Node},
                                  [config](RequestContext& ctx) { return getConfig(ctx, *config); },
                                  "OpenVPN config with a fresh keypair, from the EduVPN server",
                                  false});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/vpn/update",
                                  {ClientKind::Node},
                                  [config](RequestContext& ctx) { return updateConfig(ctx, *config); },
                                  "Replace the keypair of an OpenVPN config",
                                  false,
                                  // It waits for the EduVPN server and writes nothing: no write lock.
                                  true});
    registry.route(sdk::RouteDecl{Method::Get,
                                  "/vpn/algorithm/addresses",
                                  {ClientKind::Container},
                                  addresses,
                                  "VPN addresses of the algorithm containers of the caller's task family",
                                  false});
}

} // namespace dq::plugins::vpn
