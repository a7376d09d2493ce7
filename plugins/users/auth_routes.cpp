// POST /token/user (login with lockout, then the two-factor code when enabled), POST /token/refresh (users
// and nodes) and PATCH /password/change (vantage6 §1.1, §1.2, §4).
#include "users.h"

namespace dq::plugins::users {

using sdk::BadRequest;
using sdk::ClientKind;
using sdk::Id;
using sdk::JsonBody;
using sdk::Record;
using sdk::RequestContext;
using sdk::Response;

namespace {

Response tokenResponse(RequestContext& ctx, ClientKind kind, Id id) {
    std::vector<std::string> roles;
    if (kind == ClientKind::User)
        roles = roleNamesOf(ctx.store(), id);
    auto pair = ctx.services().tokens().issue(kind, id, roles);
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    body->set("access_token", pair.accessToken);
    body->set("refresh_token", pair.refreshToken);
    body->set("refresh_url", ctx.link("/token/refresh"));
    if (kind == ClientKind::User)
        body->set("user_url", ctx.link("/user/" + std::to_string(id)));
    else
        body->set("node_url", ctx.link("/node/" + std::to_string(id)));
    auto response = Response::json(body);
    response.headers["jwt-token"] = pair.accessToken;
    return response;
}

/// Returned rather than thrown: the failed-attempt counter must be committed with the answer.
Response failedLogin() {
    return Response::message("Failed to login", 401);
}

void tellBlocked(sdk::Services& services, const Record& user, std::int64_t minutes) {
    auto mailer = services.find<sdk::Mailer>(sdk::kMailerService);
    if (!mailer || user.text("email").empty())
        return;
    try {
        mailer->send(user.text("email"), "Your account has been blocked",
                     "Dear " + user.text("username") +
                         ",\n\nThere were too many failed attempts to log in to your "
                         "account, so it is blocked for " +
                         std::to_string(minutes) + " minutes. If this was not you, please contact " +
                         mailer->supportAddress() + ".\n");
    } catch (const std::exception& e) {
        services.log().error("users: could not send the account-blocked mail to user '%s': %s",
                             user.text("username"), std::string(e.what()));
    }
}

} // namespace

std::optional<Response> checkPassword(sdk::Services& services, const Record& user,
                                      const std::string& password) {
    const auto& settings = services.settings();
    std::int64_t maxAttempts = settings.integer(kMaxFailedAttempts);
    std::int64_t lockMinutes = settings.integer(kInactivationMinutes);
    std::int64_t attempts = user.integer("failed_login_attempts").value_or(0);
    const auto& username = user.text("username");
    auto since = minutesSince(user.text("last_login_attempt"));
    if (attempts >= maxAttempts && since && *since < static_cast<double>(lockMinutes)) {
        services.log().warning("users: login refused: user '%s' is locked after %Ld failed attempts",
                               username, attempts);
        return failedLogin();
    }
    if (!services.passwords().verify(password, user.text("password"))) {
        attempts = (attempts == 0 || attempts >= maxAttempts) ? 1 : attempts + 1;
        Record changes;
        changes.set("failed_login_attempts", attempts).set("last_login_attempt", sdk::nowUtc());
        services.transaction([&](sdk::Store& store) { store.update("user", user.id, changes); });
        services.log().information("users: failed login for user '%s' (%Ld of %Ld attempts)", username,
                                   attempts, maxAttempts);
        if (attempts >= maxAttempts)
            tellBlocked(services, user, lockMinutes);
        return failedLogin();
    }
    if (attempts != 0) {
        Record changes;
        changes.set("failed_login_attempts", std::int64_t(0));
        services.transaction([&](sdk::Store& store) { store.update("user", user.id, changes); });
    }
    return std::nullopt;
}

namespace {

Response login(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto username = body.text("username");
    auto password = body.text("password");
    auto otpCode = otpCodeIn(body);
    body.done();
    if (!username || !password || username->empty() || password->empty())
        throw BadRequest("Username and/or password missing in JSON body");

    auto user = findByUsername(ctx.store(), *username);
    if (!user) {
        ctx.services().log().information("users: failed login: no user '%s'", *username);
        return failedLogin();
    }
    if (auto refused = checkPassword(ctx.services(), *user, *password))
        return *refused;
    if (auto answer = secondFactor(ctx, *user, otpCode))
        return *answer;
    return tokenResponse(ctx, ClientKind::User, user->id);
}

Response refresh(RequestContext& ctx) {
    const auto& who = ctx.identity();
    if (who.is(ClientKind::User) || who.is(ClientKind::Node))
        return tokenResponse(ctx, *who.kind, who.id);
    throw BadRequest(
        "Only users and nodes can refresh their tokens; containers get a new token from their node");
}

Response changePassword(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto current = body.text("current_password");
    auto wanted = body.text("new_password");
    body.done();
    if (!current)
        throw BadRequest("Your current password is missing");
    if (!wanted)
        throw BadRequest("Your new password is missing!");
    auto user = ctx.store().find("user", ctx.identity().id);
    if (!user)
        throw sdk::Unauthorized("Error loading the user " + std::to_string(ctx.identity().id));
    if (!ctx.services().passwords().verify(*current, user->text("password")))
        throw sdk::Unauthorized("Your current password is not correct");
    if (*current == *wanted)
        throw BadRequest("New password is the same as current password");
    if (auto problem = passwordProblem(*wanted); !problem.empty())
        throw BadRequest(problem);
    Record changes;
    changes.set("password", ctx.services().passwords().hash(*wanted));
    ctx.store().update("user", user->id, changes);
    ctx.services().log().information("users: user '%s' changed their password", user->text("username"));
    return Response::message("The password has been changed successfully!");
}

} // namespace

void declareAuthRoutes(sdk::Registry& registry) {
    using sdk::Method;
    registry.route(
        // Read-only: bcrypt takes a quarter second, which must not hold the write lock.
        sdk::RouteDecl{
            Method::Post, "/token/user", {}, login, "Log in with username and password", false, true});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/token/refresh",
                                  {ClientKind::User, ClientKind::Node},
                                  refresh,
                                  "New access and refresh tokens for a refresh token",
                                  true});
    registry.route(sdk::RouteDecl{Method::Patch,
                                  "/password/change",
                                  {ClientKind::User},
                                  changePassword,
                                  "Change your own password",
                                  false});
}

} // namespace dq::plugins::users
