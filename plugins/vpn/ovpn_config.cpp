// Editing .ovpn text the way vantage6 does: the client keypair goes just before <tls-crypt>, and a
// renewal cuts the old <cert> ... </key> block out first.
#include "vpn.h"

namespace dq::plugins::vpn {

std::string insertKeypair(const std::string& ovpn, const std::string& cert, const std::string& key) {
    const std::string block = "<cert>\n" + cert + "\n</cert>\n<key>\n" + key + "\n</key>\n";
    auto at = ovpn.find("<tls-crypt>");
    if (at == std::string::npos) {
        // vantage6 would cut off the last character here; a config without tls-crypt keeps its text.
        std::string out = ovpn;
        if (!out.empty() && out.back() != '\n')
            out += '\n';
        return out + block;
    }
    return ovpn.substr(0, at) + block + ovpn.substr(at);
}

std::string removeKeypair(const std::string& ovpn) {
    auto start = ovpn.find("<cert>");
    const std::string endTag = "</key>";
    auto end = ovpn.find(endTag, start == std::string::npos ? 0 : start);
    if (start == std::string::npos || end == std::string::npos)
        return ovpn;
    end += endTag.size();
    if (end < ovpn.size() && ovpn[end] == '\n')
        ++end;
    return ovpn.substr(0, start) + ovpn.substr(end);
}

} // namespace dq::plugins::vpn
