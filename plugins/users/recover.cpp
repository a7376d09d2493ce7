// Recovery by e-mail (vantage6 §1.1 /recover/lost, /recover/reset, /recover/2fa/lost,
// /recover/2fa/reset): a signed, short-lived, single-use reset token for a password or a two-factor
// secret is mailed through the smtp plugin's "mailer" service. Without that service
// both routes answer 501, so a server without mail says so instead of pretending to send. Every
// route is throttled per client address, and the mails per account.
#include "users.h"

#include <Poco/DigestEngine.h>
#include <Poco/NumberParser.h>
#include <Poco/SHA2Engine.h>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>

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

/// At most `limit` events per key within `window`: a sliding window in this process's memory. With
/// several server processes each counts its own, so the bound multiplies by their number, which
/// is harmless; nothing is ever refused for longer than the window.
class Throttle {
public:
    Throttle(std::size_t limit, std::chrono::seconds window) : limit_(limit), window_(window) {}

    /// Counts an event for `key`; nullopt when allowed, else the seconds until it would be.
    std::optional<std::int64_t> take(const std::string& key) {
        auto now = Clock::now();
        std::lock_guard lock(mutex_);
        if (seen_.size() > kMaxKeys)
            prune(now);
        auto& times = seen_[key];
        while (!times.empty() && now - times.front() >= window_)
            times.pop_front();
        if (times.size() >= limit_)
            return std::chrono::duration_cast<std::chrono::seconds>(times.front() + window_ - now).count() +
                   1;
        times.push_back(now);
        return std::nullopt;
    }

private:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kMaxKeys = 100000;

    void prune(Clock::time_point now) {
        for (auto it = seen_.begin(); it != seen_.end();)
            it = it->second.empty() || now - it->second.back() >= window_ ? seen_.erase(it) : std::next(it);
        // Still too many (a flood of distinct keys): forget them all rather than grow without bound.
        if (seen_.size() > kMaxKeys)
            seen_.clear();
    }

    std::size_t limit_;
    std::chrono::seconds window_;
    std::mutex mutex_;
    std::map<std::string, std::deque<Clock::time_point>> seen_;
};

/// The throttles of one running plugin. Per client address, on every /recover route: 10 requests in
/// 15 minutes. Per account that recovery mail goes to: 3 mails an hour, so that nobody can
/// mail-bomb an address.
struct Throttles {
    Throttle clients{10, std::chrono::minutes(15)};
    Throttle mails{3, std::chrono::hours(1)};
};

/// 429 with Retry-After when this client asked too often, else nullopt.
std::optional<Response> throttled(RequestContext& ctx, Throttles& throttles) {
    auto wait = throttles.clients.take(ctx.request().clientAddress);
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
void mailToken(RequestContext& ctx, Throttles& throttles, sdk::Mailer& mailer, const Record& user,
               const std::string& purpose, const std::string& field, const std::string& subject,
               const std::string& what, const std::string& ifNotYou) {
    // Same answer either way: the caller learns nothing about the account from the throttle.
    if (throttles.mails.take(user.text("email"))) {
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

Response lostPassword(RequestContext& ctx, Throttles& throttles) {
    if (auto refused = throttled(ctx, throttles))
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
    mailToken(ctx, throttles, *mailer, *user, kPurpose, "password", "Password reset vantage6",
              "A new password was requested for your account '" + user->text("username") +
                  "'. To choose it, send this reset token to /recover/reset (or paste it in the UI)",
              "your password stays the same");
    return answer;
}

Response resetPassword(RequestContext& ctx, Throttles& throttles) {
    if (auto refused = throttled(ctx, throttles))
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

Response lostTwoFactor(RequestContext& ctx, Throttles& throttles) {
    if (auto refused = throttled(ctx, throttles))
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
    mailToken(ctx, throttles, *mailer, *user, kTwoFactorPurpose, "otp_secret",
              "Two-factor authentication reset vantage6",
              "A new two-factor authentication secret was requested for your account '" +
                  user->text("username") +
                  "'. To get it, send this reset token to /recover/2fa/reset (or paste it in the UI)",
              "your current authenticator keeps working");
    return answer;
}

Response resetTwoFactor(RequestContext& ctx, Throttles& throttles) {
    if (auto refused = throttled(ctx, throttles))
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
    auto throttles = std::make_shared<Throttles>();
    auto with = [throttles](Response (*handler)(RequestContext&, Throttles&)) {
        return [throttles, handler](RequestContext& ctx) { return handler(ctx, *throttles); };
    };
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/lost",
                                  {},
                                  with(lostPassword),
                                  "Mail a password reset token to a user (needs the smtp plugin)",
                                  false});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/reset",
                                  {},
                                  with(resetPassword),
                                  "Set a new password with a mailed reset token",
                                  false});
    registry.route(
        sdk::RouteDecl{Method::Post,
                       "/recover/2fa/lost",
                       {},
                       with(lostTwoFactor),
                       "Mail a two-factor reset token to a user who knows their password (needs smtp)",
                       false});
    registry.route(sdk::RouteDecl{Method::Post,
                                  "/recover/2fa/reset",
                                  {},
                                  with(resetTwoFactor),
                                  "A new two-factor secret for a mailed reset token",
                                  false});
}

} // namespace dq::plugins::users
