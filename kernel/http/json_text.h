// Appending JSON text to a std::string, exactly as Poco's Stringifier writes it: the one writer of
// the list bodies that the serializer and the pagination helper build as text.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <string>

namespace dq::kernel {

/// Appends Poco::JSON::Stringifier::condense(value) to `out`.
void appendJson(std::string& out, const Poco::Dynamic::Var& value);

/// Appends `text` as a JSON string, escaped as Poco's Stringifier escapes it.
void appendString(std::string& out, const std::string& text);

} // namespace dq::kernel
