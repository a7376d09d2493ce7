// Recovery by e-mail (vantage6 §1.1 /recover/lost, /recover/reset, /recover/2fa/lost,
// /recover/2fa/reset): a signed, short-lived, single-use reset token for a password or a two-factor
// secret is mailed through the smtp plugin's "mailer" service. Without that service
// both routes answer 501, so a server without mail says so instead of pretending to send. Every
// route is throttled per client address, and the mails per e-mail address, in the database (so the
// limits hold across server processes).
#include "users.h"

#include <Poco/DigestEngine.h>
#include <Poco/NumberParser.h>
#include <Poco/SHA2Engine.h>
#include <chrono>

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

/// At most `limit` events per subject in a window of `window` that opens with the subject's first
/// event. Counted in the database, in one statement, so that every server process on it (scale-out)
/// shares the count and concurrent requests cannot overtake each other; windows that ended are
/// pruned as new ones open, so the table holds only the subjects of the last `window`.
class Throttle {
public:
    Throttle(std::string kind, std::int64_t limit, std::chrono::seconds window)
        : kind_(std::move(kind)), limit_(limit), window_(window.count()) {}

    /// Counts an event for `subject`; nullopt when allowed, else the seconds until it would be.
    std::optional<std::int64_t> take(sdk::Store& store, const std::string& subject) const {
        const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
        auto rows = store.query(
            "INSERT INTO recovery_throttle (subject, hits, window_ends) VALUES (?, 1, ?) "
            "ON CONFLICT (subject) DO UPDATE SET "
            "hits = CASE WHEN recovery_throttle.window_ends <= ? THEN 1 ELSE recovery_throttle.hits + 1 END, "
            "window_ends = CASE WHEN recovery_throttle.window_ends <= ? THEN excluded.window_ends "
            "ELSE recovery_throttle.window_ends END "
            "RETURNING hits, window_ends",
            {kind_ + ":" + subject, now + window_, now, now});
        const auto hits = rows.rows.at(0).at(0).convert<std::int64_t>();
        const auto ends = rows.rows.at(0).at(1).convert<std::int64_t>();
        if (hits == 1)
            store.execute("DELETE FROM recovery_throttle WHERE window_ends <= ?", {now});
        if (hits <= limit_)
            return std::nullopt;
        return std::max<std::int64_t>(1, ends - now);
    }

private:
    std::string kind_;
    std::int64_t limit_;
    std::int64_t window_;
};

/// Per client address, on every /recover route: 10 requests in 15 minutes. Per e-mail address that
/// recovery mail goes to: 3 mails an hour, so that nobody can mail-bomb an address.
const Throttle kClients{"client", 10, std::chrono::minutes(15)};
const Throttle kMails{"mail", 3, std::chrono::hours(1)};

/// 429 with Retry-After when this client asked too often, else nullopt. The count is committed at
/// once: a request that fails afterwards (a bad body, a forged token) counts all the same.
std::optional<Response> throttled(RequestContext& ctx) {
    auto wait = kClients.take(ctx.store(), ctx.request().clientAddress);
    ctx.commit();
    if (!wait)
        return std::nullopt;
    ctx.services().log().warning("users: recovery requests from %s throttled", ctx.request().clientAddress);
    auto response = Response::message("Too many recovery requests from your address; try again in " +
                                          std::to_string(*wait) + " seconds.",
                                      429);
    response.headers["Retry-After"] = std::to_string(*wait);
    return response;
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
void mailToken(RequestContext& ctx, sdk::Mailer& mailer, const Record& user,
               const std::string& purpose, const std::string& field, const std::string& subject,
               const std::string& what, const std::string& ifNotYou) {
    // Same answer either way: the caller learns nothing about the account from the throttle.
    if (kMails.take(ctx.store(), user.text("email"))) {
        ctx.services().log().warning("users: '%s' mail to user '%s' not sent: too many recently", subject,
                                     user.text("username"));
        return;
    }
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
    if (auto refused = throttled(ctx))
        return *refused;
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
    if (auto refused = throttled(ctx))
        return *refused;
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
    ctx.commit();
    auto hash = ctx.services().passwords().hash(*password);
    // The token is single-use: it names the hash it may replace, and only that one.
    if (!ctx.store()
             .select("user", sdk::Query()
                                 .add(sdk::Condition::equal("id", user.id))
                                 .add(sdk::Condition::equal("password", user.text("password"))))
             .empty())
        endSessions(ctx.store(), user.id, hash);
    else
        throw BadRequest("Invalid recovery token!");
    ctx.services().log().information("users: user '%s' reset their password with a mailed token",
                                     user.text("username"));
    return Response::message("The password has successfully been reset!");
}

Response lostTwoFactor(RequestContext& ctx) {
    if (auto refused = throttled(ctx))
        return *refused;
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
    if (auto refused = checkPassword(ctx, *user, *password))
        return *refused;
    user = ctx.store().find("user", user->id);
    if (!user)
        return answer;
    mailToken(ctx, *mailer, *user, kTwoFactorPurpose, "otp_secret",
              "Two-factor authentication reset vantage6",
              "A new two-factor authentication secret was requested for your account '" +
                  user->text("username") +
                  "'. To get it, send this reset token to /recover/2fa/reset (or paste it in the UI)",
              "your current authenticator keeps working");
    return answer;
}

Response resetTwoFactor(RequestContext& ctx) {
    if (auto refused = throttled(ctx))
        return *refused;
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
    registry.model(
        sdk::ModelDecl("recovery_throttle")
            .description("Recent /recover requests per client and mails per address, shared by every server "
                         "process on the database: a throttle that holds when the servers scale out")
            .field(sdk::Field{"subject", sdk::FieldType::Text, false, true, false, {},
                              "client:<address> or mail:<e-mail address>", {}, 300})
            .field(sdk::Field{"hits", sdk::FieldType::Integer, false, false, false, {}, "events in the window"})
            .field(sdk::Field{"window_ends", sdk::FieldType::Integer, false, false, false, {},
                              "when the window ends, in seconds since 1970 (UTC)"}));
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
                       false});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/2fa/reset",
                                  {},
                                  resetTwoFactor,
                                  "A new two-factor secret for a mailed reset token",
                                  false});
}

} // namespace dq::plugins::users
