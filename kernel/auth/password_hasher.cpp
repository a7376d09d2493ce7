// bcrypt via crypt_r: reentrant, so concurrent logins do not serialize on a global buffer.
#include "kernel/auth/password_hasher.h"

#include <crypt.h>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace dq::kernel {

std::string PasswordHasher::hash(const std::string& clear) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", cost_, nullptr, 0, salt, sizeof salt))
        throw std::runtime_error("bcrypt: cannot generate a salt");
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(clear.c_str(), salt, data.get());
    if (!out || out[0] == '*')
        throw std::runtime_error("bcrypt: hashing failed");
    return out;
}

bool PasswordHasher::verify(const std::string& clear, const std::string& hash) {
    if (hash.rfind("$2", 0) != 0)
        return false;
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(clear.c_str(), hash.c_str(), data.get());
    if (!out || out[0] == '*')
        return false;
    // Constant-time compare: the hash length is public, the content is not.
    std::size_t n = std::strlen(out);
    if (n != hash.size())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < n; ++i)
        diff |= static_cast<unsigned char>(out[i] ^ hash[i]);
    return diff == 0;
}

} // namespace dq::kernel
