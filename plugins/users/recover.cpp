// Password recovery by e-mail (vantage6 §1.1 /recover/lost, /recover/reset): a signed, short-lived,
// single-use reset token is mailed through the smtp plugin's "mailer" service. Without that service
// both routes answer 501, so a server without mail says so instead of pretending to send.
#include "users.h"

#include <Poco/DigestEngine.h>
#include <Poco/NumberParser.h>
#include <Poco/SHA2Engine.h>

namespace dq::plugins::users {

using sdk::BadRequest;
using sdk::JsonBody;
using sdk::Record;
using sdk::RequestContext;
using sdk::Response;

namespace {

constexpr const char* kPurpose = "password-reset";
constexpr const char* kNoMailer =
    "Password recovery by e-mail is not configured on this server (no smtp plugin)";

/// Ties a token to the password it may replace: once the password changes (by this reset or any
/// other way), the token no longer matches. A digest of the hash, so the token (readable by anyone
/// holding it) reveals nothing of the bcrypt hash.
std::string passwordFingerprint(const std::string& passwordHash) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(passwordHash);
    return Poco::DigestEngine::digestToHex(sha.digest()).substr(0, 16);
}

/// smtp's `email_token_validity_minutes`, wherever the config has it (the smtp plugin validates it).
int tokenValidityMinutes(const sdk::Settings& settings) {
    for (const char* key : {"plugins.settings.smtp.email_token_validity_minutes",
                            "smtp.email_token_validity_minutes", "email_token_validity_minutes"}) {
        int minutes = 0;
        if (Poco::NumberParser::tryParse(settings.server(key), minutes) && minutes > 0)
            return minutes;
    }
    return 60;
}

std::shared_ptr<sdk::Mailer> mailerOf(RequestContext& ctx) {
    return ctx.services().find<sdk::Mailer>(sdk::kMailerService);
}

std::optional<Record> findByEmail(sdk::Store& store, const std::string& email) {
    auto users = store.select("user", sdk::Query().add(sdk::Condition::equal("email", email)));
    if (users.empty())
        return std::nullopt;
    return users.front();
}

Response lostPassword(RequestContext& ctx) {
    auto mailer = mailerOf(ctx);
    if (!mailer)
        return Response::message(kNoMailer, 501);
    JsonBody body(ctx.request());
    auto username = body.text("username");
    auto email = body.text("email");
    body.done();
    if ((!username || username->empty()) && (!email || email->empty()))
        throw BadRequest("No username or email provided!");

    // The same answer whether or not the user exists, so the route cannot be used to probe accounts.
    const auto answer = Response::message("If the username or email is in our database you will soon receive "
                                          "an email.");
    auto& store = ctx.store();
    auto user =
        username && !username->empty() ? findByUsername(store, *username) : findByEmail(store, *email);
    auto& log = ctx.services().log();
    if (!user) {
        log.information("users: password recovery asked for unknown user '%s'",
                        username ? *username : *email);
        return answer;
    }
    if (user->text("email").empty()) {
        log.warning("users: password recovery for user '%s' impossible: the account has no e-mail address",
                    user->text("username"));
        return answer;
    }
    int minutes = tokenValidityMinutes(ctx.services().settings());
    Poco::JSON::Object::Ptr claims = new Poco::JSON::Object;
    claims->set("user_id", user->id);
    claims->set("pwd", passwordFingerprint(user->text("password")));
    auto token = ctx.services().tokens().issuePurpose(kPurpose, claims, minutes * 60);
    try {
        mailer->send(
            user->text("email"), "Password reset vantage6",
            "Dear " + (user->text("firstname").empty() ? user->text("username") : user->text("firstname")) +
                ",\n\nA new password was requested for your account '" + user->text("username") +
                "'. To choose it, send this reset token to /recover/reset (or paste it in the UI) within " +
                std::to_string(minutes) + " minutes:\n\n" + token +
                "\n\nIf you did not ask for this, you can ignore this mail; your password stays the same. "
                "Questions: " +
                mailer->supportAddress() + "\n");
    } catch (const std::exception& e) {
        log.error("users: could not queue the password reset mail for user '%s': %s", user->text("username"),
                  std::string(e.what()));
    }
    return answer;
}

Response resetPassword(RequestContext& ctx) {
    if (!mailerOf(ctx))
        return Response::message(kNoMailer, 501);
    JsonBody body(ctx.request());
    auto token = body.text("reset_token");
    auto password = body.text("password");
    body.done();
    if (!token || token->empty() || !password || password->empty())
        throw BadRequest("The reset token and/or password is missing!");

    Poco::JSON::Object::Ptr claims;
    try {
        claims = ctx.services().tokens().verifyPurpose(kPurpose, *token);
    } catch (const sdk::Unauthorized&) {
        throw sdk::Unauthorized("Token has expired");
    } catch (const sdk::HttpError&) {
        throw BadRequest("Invalid recovery token!");
    }
    std::optional<Record> user;
    if (claims && claims->has("user_id"))
        user = ctx.store().find("user", claims->getValue<sdk::Id>("user_id"));
    // A used token no longer matches the (changed) password: it is as invalid as a forged one.
    if (!user || claims->optValue<std::string>("pwd", "") != passwordFingerprint(user->text("password")))
        throw BadRequest("Invalid recovery token!");
    if (auto problem = passwordProblem(*password); !problem.empty())
        throw BadRequest(problem);

    Record changes;
    changes.set("password", ctx.services().passwords().hash(*password));
    changes.set("failed_login_attempts", std::int64_t(0));
    ctx.store().update("user", user->id, changes);
    ctx.services().log().information("users: user '%s' reset their password with a mailed token",
                                     user->text("username"));
    return Response::message("The password has successfully been reset!");
}

} // namespace

void declareRecoveryRoutes(sdk::Registry& registry) {
    using sdk::Method;
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/lost",
                                  {},
                                  lostPassword,
                                  "Mail a password reset token to a user (needs the smtp plugin)",
                                  false});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/reset",
                                  {},
                                  resetPassword,
                                  "Set a new password with a mailed reset token",
                                  false});
}

} // namespace dq::plugins::users
