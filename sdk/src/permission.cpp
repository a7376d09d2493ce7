// Names of scopes, operations and client kinds as the API and the database spell them.
#include "dq/sdk/permission.h"

#include "dq/sdk/services.h"

namespace dq::sdk {

std::string toString(Scope s) {
    switch (s) {
    case Scope::Own:
        return "OWN";
    case Scope::Organization:
        return "ORGANIZATION";
    case Scope::Collaboration:
        return "COLLABORATION";
    case Scope::Global:
        return "GLOBAL";
    }
    return "";
}

std::string toString(Operation o) {
    switch (o) {
    case Operation::View:
        return "VIEW";
    case Operation::Edit:
        return "EDIT";
    case Operation::Create:
        return "CREATE";
    case Operation::Delete:
        return "DELETE";
    case Operation::Send:
        return "SEND";
    case Operation::Receive:
        return "RECEIVE";
    }
    return "";
}

std::optional<Scope> scopeFromString(const std::string& name) {
    for (Scope s : {Scope::Own, Scope::Organization, Scope::Collaboration, Scope::Global})
        if (toString(s) == name)
            return s;
    return std::nullopt;
}

std::optional<Operation> operationFromString(const std::string& name) {
    for (Operation o : {Operation::View, Operation::Edit, Operation::Create, Operation::Delete,
                        Operation::Send, Operation::Receive})
        if (toString(o) == name)
            return o;
    return std::nullopt;
}

std::string toString(ClientKind k) {
    switch (k) {
    case ClientKind::User:
        return "user";
    case ClientKind::Node:
        return "node";
    case ClientKind::Container:
        return "container";
    }
    return "";
}

// Out of line so that the type's vtable and typeinfo live once, in the SDK library.
Service::~Service() = default;

} // namespace dq::sdk
