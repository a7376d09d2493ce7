#include "kernel/log/logging.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Path.h>
#include <Poco/PatternFormatter.h>
#include <Poco/SplitterChannel.h>
#include <cctype>
#include <stdexcept>
#include <utility>

namespace dq::kernel {

namespace {

/// Poco's names for its eight priorities, replaced by what Python logging prints (levelname), so
/// log lines look like those of vantage6. Poco's Fatal and Notice have no Python counterpart.
const std::string kPythonPriorityNames = "CRITICAL,CRITICAL,ERROR,WARNING,NOTICE,INFO,DEBUG,TRACE";

std::string upper(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string escapeLiteral(const std::string& text) {
    std::string out;
    for (char c : text) {
        out += c;
        if (c == '%')
            out += '%';
    }
    return out;
}

/// strftime (Python's time.strftime, plus %f) to Poco's date part of a pattern.
std::string translateDateFormat(const std::string& datefmt) {
    // logging.Formatter without datefmt prints "2003-07-08 16:49:45,896".
    if (datefmt.empty())
        return "%Y-%m-%d %H:%M:%S,%i";
    std::string out;
    for (std::size_t i = 0; i < datefmt.size(); ++i) {
        char c = datefmt[i];
        if (c != '%' || i + 1 == datefmt.size()) {
            out += c == '%' ? "%%" : std::string(1, c);
            continue;
        }
        char d = datefmt[++i];
        switch (d) {
        case 'Y':
        case 'y':
        case 'm':
        case 'd':
        case 'H':
        case 'M':
        case 'S':
        case 'b':
        case 'B':
            out += '%';
            out += d;
            break;
        case 'e':
            out += "%f";
            break; // space-padded day; Poco's %f, not its %e
        case 'f':
            out += "%F";
            break; // microseconds
        case 'I':
            out += "%h";
            break;
        case 'p':
            out += "%A";
            break;
        case 'a':
            out += "%w";
            break;
        case 'A':
            out += "%W";
            break;
        case 'h':
            out += "%b";
            break;
        case 'z':
        case 'Z':
            out += "%Z";
            break; // +NNNN; Poco has no zone names
        case 'D':
        case 'x':
            out += "%m/%d/%y";
            break;
        case 'T':
        case 'X':
            out += "%H:%M:%S";
            break;
        case 'R':
            out += "%H:%M";
            break;
        case 'F':
            out += "%Y-%m-%d";
            break;
        case 'c':
            out += "%w %b %f %H:%M:%S %Y";
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '%':
            out += "%%";
            break;
        default: // %j, %U, %W ... have no Poco equivalent: shown literally
            out += "%%";
            out += d;
        }
    }
    return out;
}

std::string resolveLogFile(const LoggingConfig& cfg, const std::string& defaultLogFile) {
    if (cfg.file.empty())
        return defaultLogFile;
    Poco::Path configured(cfg.file);
    if (configured.isAbsolute() || defaultLogFile.empty())
        return cfg.file;
    Poco::Path folder(defaultLogFile);
    folder.setFileName("");
    return folder.append(configured).toString();
}

} // namespace

int pocoPriorityOf(const std::string& pythonLevel) {
    static const std::pair<const char*, int> levels[] = {
        {"CRITICAL", Poco::Message::PRIO_CRITICAL}, {"ERROR", Poco::Message::PRIO_ERROR},
        {"WARNING", Poco::Message::PRIO_WARNING},   {"INFO", Poco::Message::PRIO_INFORMATION},
        {"DEBUG", Poco::Message::PRIO_DEBUG},       {"NOTSET", Poco::Message::PRIO_TRACE},
    };
    const std::string wanted = upper(pythonLevel);
    for (const auto& [name, priority] : levels)
        if (wanted == name)
            return priority;
    throw std::invalid_argument("unknown log level \"" + pythonLevel +
                                "\": use CRITICAL, ERROR, WARNING, INFO, DEBUG or NOTSET");
}

std::string translatePythonFormat(const std::string& pyFormat, const std::string& datefmt) {
    std::string out;
    std::size_t i = 0;
    while (i < pyFormat.size()) {
        const char c = pyFormat[i];
        if (c != '%') {
            out += c;
            ++i;
            continue;
        }
        if (i + 1 < pyFormat.size() && pyFormat[i + 1] == '%') {
            out += "%%";
            i += 2;
            continue;
        }
        const std::size_t close = pyFormat.find(')', i);
        if (i + 1 >= pyFormat.size() || pyFormat[i + 1] != '(' || close == std::string::npos) {
            out += "%%"; // a stray '%' is text for Poco too
            ++i;
            continue;
        }
        const std::string key = pyFormat.substr(i + 2, close - i - 2);
        // %(key)[flags][width][.precision]type, as Python's %-formatting reads it.
        std::size_t j = close + 1;
        while (j < pyFormat.size() && std::string("#0- +").find(pyFormat[j]) != std::string::npos)
            ++j;
        int width = 0;
        while (j < pyFormat.size() && std::isdigit(static_cast<unsigned char>(pyFormat[j])))
            width = width * 10 + (pyFormat[j++] - '0');
        if (j < pyFormat.size() && pyFormat[j] == '.') {
            ++j;
            while (j < pyFormat.size() && std::isdigit(static_cast<unsigned char>(pyFormat[j])))
                ++j;
        }
        if (j < pyFormat.size() && std::string("diouxXeEfFgGcrsa").find(pyFormat[j]) != std::string::npos)
            ++j;
        const std::string placeholder = pyFormat.substr(i, j - i);
        i = j;

        if (key == "asctime")
            out += translateDateFormat(datefmt);
        else if (key == "name")
            // Poco pads only the source, with %v[width]: left-aligned like "%(name)-14s", but it
            // also crops longer names (keeping their end), which Python does not.
            out += width > 0 ? "%v[" + std::to_string(width) + "]" : "%s";
        else if (key == "levelname")
            out += "%p"; // Poco cannot pad the priority: a width such as "-8" is dropped
        else if (key == "levelno")
            out += "%l"; // Poco's 1 (fatal) .. 8 (trace), not Python's 10 .. 50
        else if (key == "message")
            out += "%t";
        else if (key == "process")
            out += "%P";
        else if (key == "thread")
            out += "%I";
        else if (key == "threadName")
            out += "%T";
        else if (key == "lineno")
            out += "%u";
        else if (key == "filename")
            out += "%O";
        else if (key == "pathname")
            out += "%U";
        else if (key == "created")
            out += "%E";
        else if (key == "msecs")
            out += "%i";
        else
            out += escapeLiteral(placeholder);
    }
    return out;
}

void configureLogging(const LoggingConfig& cfg, const std::string& defaultLogFile) {
    // Everything that can be wrong is checked before the first logger changes.
    const int rootPriority = pocoPriorityOf(cfg.level);
    std::vector<std::pair<std::string, int>> levels;
    for (const auto& logger : cfg.loggers)
        levels.emplace_back(logger.name, pocoPriorityOf(logger.level));

    Poco::AutoPtr<Poco::PatternFormatter> formatter =
        new Poco::PatternFormatter(translatePythonFormat(cfg.format, cfg.datefmt));
    formatter->setProperty(Poco::PatternFormatter::PROP_TIMES, "local"); // asctime is local time
    formatter->setProperty(Poco::PatternFormatter::PROP_PRIORITY_NAMES, kPythonPriorityNames);

    Poco::AutoPtr<Poco::SplitterChannel> splitter = new Poco::SplitterChannel;
    if (cfg.useConsole)
        splitter->addChannel(new Poco::FormattingChannel(formatter, new Poco::ConsoleChannel));

    const std::string path = resolveLogFile(cfg, defaultLogFile);
    if (!path.empty()) {
        Poco::Path folder(path);
        folder.setFileName("");
        if (!folder.toString().empty())
            Poco::File(folder).createDirectories();
        Poco::AutoPtr<Poco::FileChannel> file = new Poco::FileChannel(path);
        file->setProperty(Poco::FileChannel::PROP_ROTATION, std::to_string(cfg.maxSizeKb) + " K");
        file->setProperty(Poco::FileChannel::PROP_ARCHIVE, "number");
        file->setProperty(Poco::FileChannel::PROP_PURGECOUNT, std::to_string(cfg.backupCount));
        file->open(); // fail here, at start-up, rather than on the first message
        splitter->addChannel(new Poco::FormattingChannel(formatter, file));
    }

    // Synchronous on purpose: nothing is lost when the process stops, and tests see every line.
    // The root first, so loggers created from now on inherit channel and level from it.
    Poco::Logger::root().setChannel(splitter);
    Poco::Logger::root().setLevel(rootPriority);
    Poco::Logger::setChannel("", splitter);
    Poco::Logger::setLevel("", rootPriority);
    for (const auto& [name, priority] : levels) {
        // get() makes the logger exist, so its later descendants inherit this level.
        Poco::Logger::get(name).setLevel(priority);
        Poco::Logger::setLevel(name, priority);
    }
}

} // namespace dq::kernel
