// POST /token/user (login with lockout, then the two-factor code when enabled), POST /token/refresh (users
// and nodes) and PATCH /password/change (vantage6 §1.1, §1.2, §4).
#include "users.h"

#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>

namespace dq::plugins::users {

using sdk::BadRequest;
using sdk::ClientKind;
using sdk::Id;
using sdk::JsonBody;
using sdk::Record;
using sdk::RequestContext;
using sdk::Response;

namespace {

Response tokenResponse(RequestContext& ctx, ClientKind kind, Id id, std::int64_t credentialVersion) {
    std::vector<std::string> roles;
    if (kind == ClientKind::User)
        roles = roleNamesOf(ctx.store(), id);
    auto pair = ctx.services().tokens().issue(kind, id, roles, credentialVersion);
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

/// Counts one password check of `user` before bcrypt runs, in one statement, so that concurrent
/// guesses cannot overtake each other: nullopt when the account is locked (at the limit and within
/// the lock time), else the count including this attempt. A lock that has run out starts over at 1.
std::optional<std::int64_t> reserveAttempt(sdk::Store& store, Id user, std::int64_t maxAttempts,
                                           std::int64_t lockMinutes) {
    auto now = Poco::Timestamp();
    auto lockStart = now - Poco::Timespan(lockMinutes * 60, 0);
    auto rows = store.query(
        "UPDATE \"user\" SET failed_login_attempts = CASE WHEN COALESCE(failed_login_attempts, 0) >= ? "
        "THEN 1 ELSE COALESCE(failed_login_attempts, 0) + 1 END, last_login_attempt = ? "
        "WHERE id = ? AND (COALESCE(failed_login_attempts, 0) < ? OR last_login_attempt IS NULL "
        "OR last_login_attempt < ?) RETURNING failed_login_attempts",
        {maxAttempts, sdk::storedDateTime(now), user, maxAttempts, sdk::storedDateTime(lockStart)});
    if (rows.rows.empty())
        return std::nullopt;
    return rows.rows.front().front().convert<std::int64_t>();
}

} // namespace

std::optional<Response> checkPassword(RequestContext& ctx, const Record& user, const std::string& password) {
    auto& services = ctx.services();
    const auto& settings = services.settings();
    std::int64_t maxAttempts = settings.integer(kMaxFailedAttempts);
    std::int64_t lockMinutes = settings.integer(kInactivationMinutes);
    const auto& username = user.text("username");
    auto attempt = reserveAttempt(ctx.store(), user.id, maxAttempts, lockMinutes);
    // The attempt is counted before the (slow) check, and the session given back meanwhile.
    ctx.commit();
    if (!attempt) {
        services.log().warning("users: login refused: user '%s' is locked after %Ld failed attempts",
                               username, maxAttempts);
        return failedLogin();
    }
    bool right = false;
    try {
        right = services.passwords().verify(password, user.text("password"));
    } catch (const sdk::ServiceUnavailable&) {
        // Not checked, so not counted: a busy server must not lock anybody out.
        ctx.store().execute("UPDATE \"user\" SET failed_login_attempts = failed_login_attempts - 1 "
                            "WHERE id = ? AND failed_login_attempts > 0",
                            {user.id});
        ctx.commit();
        throw;
    }
    if (!right) {
        services.log().information("users: failed login for user '%s' (%Ld of %Ld attempts)", username,
                                   *attempt, maxAttempts);
        if (*attempt >= maxAttempts) {
            // Locked: whoever holds the account's tokens (maybe the guesser) is logged out too.
            endSessions(ctx.store(), user.id);
            tellBlocked(services, user, lockMinutes);
        }
        return failedLogin();
    }
    ctx.store().execute("UPDATE \"user\" SET failed_login_attempts = 0 WHERE id = ?", {user.id});
    return std::nullopt;
}

namespace {

Response login(RequestContext& ctx, const std::string& dummyHash) {
    JsonBody body(ctx.request());
    auto username = body.text("username");
    auto password = body.text("password");
    auto otpCode = otpCodeIn(body);
    body.done();
    if (!username || !password || username->empty() || password->empty())
        throw BadRequest("Username and/or password missing in JSON body");

    auto user = findByUsername(ctx.store(), *username);
    if (!user) {
        ctx.commit();
        // As slow as a wrong password of a real user, so the time does not tell who exists.
        ctx.services().passwords().verify(*password, dummyHash);
        ctx.services().log().information("users: failed login: no user '%s'", *username);
        return failedLogin();
    }
    if (auto refused = checkPassword(ctx, *user, *password))
        return *refused;
    // Read again: the check gave the session back, and the account may have changed meanwhile.
    user = ctx.store().find("user", user->id);
    if (!user)
        return failedLogin();
    if (auto answer = secondFactor(ctx, *user, otpCode))
        return *answer;
    return tokenResponse(ctx, ClientKind::User, user->id, user->integer("credential_version").value_or(0));
}

Response refresh(RequestContext& ctx) {
    const auto& who = ctx.identity();
    if (who.is(ClientKind::User) || who.is(ClientKind::Node))
        return tokenResponse(ctx, *who.kind, who.id, who.credentialVersion);
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
    // A wrong current password counts as a failed login: a stolen token is no way around the lockout.
    if (checkPassword(ctx, *user, *current))
        return Response::message("Your current password is not correct", 401);
    if (*current == *wanted)
        throw BadRequest("New password is the same as current password");
    if (auto problem = passwordProblem(*wanted); !problem.empty())
        throw BadRequest(problem);
    ctx.commit();
    auto hash = ctx.services().passwords().hash(*wanted);
    // Every session of the account ends with the old password, this one included.
    endSessions(ctx.store(), user->id, hash);
    ctx.services().log().information("users: user '%s' changed their password", user->text("username"));
    return Response::message("The password has been changed successfully!");
}

} // namespace

void declareAuthRoutes(sdk::Registry& registry, const std::shared_ptr<const std::string>& dummyHash) {
    using sdk::Method;
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/token/user",
                                  {},
                                  [dummyHash](RequestContext& ctx) { return login(ctx, *dummyHash); },
                                  "Log in with username and password"});
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
                                  "Change your own password (ends every session of the account)",
                                  false});

    using Type = sdk::ApiField::Type;
    sdk::RouteDoc login;
    login.method = Method::Post;
    login.path = "/token/user";
    login.noRule = true;
    login.body = {{"username", Type::Text, true},
                  {"password", Type::Text, true},
                  {"mfa_code", Type::Text, false,
                   "the current code of the authenticator app, when two-factor "
                   "authentication is on"}};
    login.description = "Answers `access_token`, `refresh_token`, `refresh_url` and `user_url`; or, when "
                        "two-factor authentication is to be set up, `qr_uri` and `otp_secret`.";
    registry.document(login);
    sdk::RouteDoc refreshDoc;
    refreshDoc.method = Method::Post;
    refreshDoc.path = "/token/refresh";
    refreshDoc.noRule = true;
    registry.document(refreshDoc);
    sdk::RouteDoc change;
    change.method = Method::Patch;
    change.path = "/password/change";
    change.noRule = true;
    change.body = {{"current_password", Type::Text, true}, {"new_password", Type::Text, true}};
    registry.document(change);
}

} // namespace dq::plugins::users
