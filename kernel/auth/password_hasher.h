// bcrypt password hashing with libcrypt (`$2b$`, as Python's bcrypt writes it).
#pragma once

#include <dq/sdk/services.h>

namespace dq::kernel {

class PasswordHasher : public sdk::Passwords {
public:
    /// `cost` is bcrypt's log2 rounds: 12 as vantage6; tests may lower it (setting bcrypt_rounds).
    explicit PasswordHasher(int cost = 12) : cost_(cost) {}
    std::string hash(const std::string& clear) override;
    bool verify(const std::string& clear, const std::string& hash) override;

private:
    int cost_;
};

} // namespace dq::kernel
