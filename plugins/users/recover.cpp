// Recovery by e-mail (vantage6 §1.1 /recover/lost, /recover/reset, /recover/2fa/lost,
// /recover/2fa/reset): a signed, short-lived, single-use reset token for a password or a two-factor
// secret is mailed through the smtp plugin's "mailer" service. Without that service
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
constexpr const char* kTwoFactorPurpose = "2fa-reset";
constexpr const char* kNoMailer = "Recovery by e-mail is not configured on this server (no smtp plugin)";

/// Ties a token to the secret it may replace (a password hash or a two-factor secret): once that
/// changes (by this reset or any other way), the token no longer matches. A digest, so the token
/// (readable by anyone holding it) reveals nothing of the secret.
std::string fingerprint(const std::string& secret) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(secret);
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

/// Mails `user` a token for `purpose` that can replace the secret in `field` once, valid for
/// smtp's `email_token_validity_minutes`. An account without an address or a mail that cannot be
/// queued is logged, not reported: the answer must not tell whether the user exists.
void mailToken(RequestContext& ctx, sdk::Mailer& mailer, const Record& user, const std::string& purpose,
               const std::string& field, const std::string& subject, const std::string& what,
               const std::string& ifNotYou) {
    if (user.text("email").empty()) {
        ctx.services().log().warning(
            "users: cannot mail '%s' to user '%s': the account has no e-mail address", subject,
            user.text("username"));
        return;
    }
    int minutes = tokenValidityMinutes(ctx.services().settings());
    Poco::JSON::Object::Ptr claims = new Poco::JSON::Object;
    claims->set("user_id", user.id);
    claims->set("fp", fingerprint(user.text(field)));
    auto token = ctx.services().tokens().issuePurpose(purpose, claims, minutes * 60);
    try {
        mailer.send(user.text("email"), subject,
                    "Dear " +
                        (user.text("firstname").empty() ? user.text("username") : user.text("firstname")) +
                        ",\n\n" + what + " within " + std::to_string(minutes) + " minutes:\n\n" + token +
                        "\n\nIf you did not ask for this, you can ignore this mail; " + ifNotYou +
                        ". Questions: " + mailer.supportAddress() + "\n");
    } catch (const std::exception& e) {
        ctx.services().log().error("users: could not queue the '%s' mail for user '%s': %s", subject,
                                   user.text("username"), std::string(e.what()));
    }
}

/// The user a mailed token names, if the token is valid for `purpose` and the secret in `field` is
/// still the one it was issued for.
Record userOfToken(RequestContext& ctx, const std::string& purpose, const std::string& token,
                   const std::string& field) {
    Poco::JSON::Object::Ptr claims;
    try {
        claims = ctx.services().tokens().verifyPurpose(purpose, token);
    } catch (const sdk::Unauthorized&) {
        throw sdk::Unauthorized("Token has expired");
    } catch (const sdk::HttpError&) {
        throw BadRequest("Invalid recovery token!");
    }
    std::optional<Record> user;
    if (claims && claims->has("user_id"))
        user = ctx.store().find("user", claims->getValue<sdk::Id>("user_id"));
    // A used token no longer matches the (changed) secret: it is as invalid as a forged one.
    if (!user || claims->optValue<std::string>("fp", "") != fingerprint(user->text(field)))
        throw BadRequest("Invalid recovery token!");
    return *user;
}

/// The account a recovery request names, by username if given, else by e-mail address; logs a
/// request for an unknown account.
std::optional<Record> namedAccount(RequestContext& ctx, const std::optional<std::string>& username,
                                   const std::optional<std::string>& email, const std::string& what) {
    bool byName = username && !username->empty();
    auto user = byName ? findByUsername(ctx.store(), *username) : findByEmail(ctx.store(), *email);
    if (!user)
        ctx.services().log().information("users: %s asked for unknown user '%s'", what,
                                         byName ? *username : *email);
    return user;
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
    auto user = namedAccount(ctx, username, email, "password recovery");
    if (!user)
        return answer;
    mailToken(ctx, *mailer, *user, kPurpose, "password", "Password reset vantage6",
              "A new password was requested for your account '" + user->text("username") +
                  "'. To choose it, send this reset token to /recover/reset (or paste it in the UI)",
              "your password stays the same");
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

    auto user = userOfToken(ctx, kPurpose, *token, "password");
    if (auto problem = passwordProblem(*password); !problem.empty())
        throw BadRequest(problem);

    Record changes;
    changes.set("password", ctx.services().passwords().hash(*password));
    changes.set("failed_login_attempts", std::int64_t(0));
    ctx.store().update("user", user.id, changes);
    ctx.services().log().information("users: user '%s' reset their password with a mailed token",
                                     user.text("username"));
    return Response::message("The password has successfully been reset!");
}

Response lostTwoFactor(RequestContext& ctx) {
    auto mailer = mailerOf(ctx);
    if (!mailer)
        return Response::message(kNoMailer, 501);
    JsonBody body(ctx.request());
    auto username = body.text("username");
    auto email = body.text("email");
    auto password = body.text("password");
    body.done();
    if ((!username || username->empty()) && (!email || email->empty()))
        throw BadRequest("No username or email provided!");
    if (!password || password->empty())
        throw BadRequest("No password provided!");

    const auto answer = Response::message(
        "If you sent a correct combination of username/email andpassword, you will soon receive an email.");
    auto user = namedAccount(ctx, username, email, "two-factor recovery");
    if (!user)
        return answer;
    // Knowing the password is what entitles one to a new second factor; a wrong one counts as a
    // failed login, so this route cannot be used to guess passwords past the lockout.
    if (auto refused = checkPassword(ctx.services(), *user, *password))
        return *refused;
    mailToken(
        ctx, *mailer, *user, kTwoFactorPurpose, "otp_secret", "Two-factor authentication reset vantage6",
        "A new two-factor authentication secret was requested for your account '" + user->text("username") +
            "'. To get it, send this reset token to /recover/2fa/reset (or paste it in the UI)",
        "your current authenticator keeps working");
    return answer;
}

Response resetTwoFactor(RequestContext& ctx) {
    if (!mailerOf(ctx))
        return Response::message(kNoMailer, 501);
    JsonBody body(ctx.request());
    auto token = body.text("reset_token");
    body.done();
    if (!token || token->empty())
        throw BadRequest("The reset token is missing!");

    auto user = userOfToken(ctx, kTwoFactorPurpose, *token, "otp_secret");
    auto secret = newOtpSecret();
    Record changes;
    changes.set("otp_secret", secret);
    ctx.store().update("user", user.id, changes);
    ctx.services().log().information("users: user '%s' reset their two-factor secret with a mailed token",
                                     user.text("username"));
    return otpSetupAnswer(ctx, user, secret);
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
    registry.route(
        sdk::RouteDecl{Method::Post,
                       "/recover/2fa/lost",
                       {},
                       lostTwoFactor,
                       "Mail a two-factor reset token to a user who knows their password (needs smtp)",
                       false,
                       // Read-only: bcrypt must not hold the write lock (as for login).
                       true});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/2fa/reset",
                                  {},
                                  resetTwoFactor,
                                  "A new two-factor secret for a mailed reset token",
                                  false});
}

} // namespace dq::plugins::users
