// Server logging: the `logging:` section of the configuration applied to Poco's loggers, with
// vantage6's Python-logging format strings translated to Poco patterns.
#pragma once

#include <string>
#include <vector>

namespace dq::kernel {

/// A level for one logger and its descendants (`logging.loggers: [{name, level}]`).
struct LoggerLevel {
    std::string name;
    std::string level; ///< as in LoggingConfig::level
};

struct LoggingConfig {
    std::string level = "INFO"; ///< CRITICAL, ERROR, WARNING, INFO, DEBUG, NOTSET
    std::string file;           ///< default <name>.log in the data folder
    bool useConsole = true;
    int backupCount = 5;
    int maxSizeKb = 1024;
    std::string format = "%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s";
    std::string datefmt = "%Y-%m-%d %H:%M:%S";
    std::vector<LoggerLevel> loggers;
};

/// Sets the root logger's channel (console and/or rotating file, each with the translated format)
/// and level, then the per-logger levels; existing loggers are updated and loggers created later
/// (Poco::Logger::get("<plugin>")) inherit from their nearest ancestor, usually the root.
/// `cfg.file` empty: `defaultLogFile`; a relative `cfg.file` is placed in the folder of
/// `defaultLogFile` (vantage6 puts the configured name in its log folder). No file when both are
/// empty. The file's folder is created when missing. Throws std::invalid_argument on an unknown
/// level and Poco exceptions when the file cannot be opened.
void configureLogging(const LoggingConfig& cfg, const std::string& defaultLogFile);

/// A Python logging format (`%(asctime)s - %(name)-14s - %(message)s`) with its `datefmt`
/// (strftime) as a Poco::PatternFormatter pattern. Placeholders Poco cannot express are kept as
/// literal text, so a mistake shows in the log instead of silently vanishing.
std::string translatePythonFormat(const std::string& pyFormat, const std::string& datefmt);

/// CRITICAL → Poco::Message::PRIO_CRITICAL ... NOTSET → PRIO_TRACE (case-insensitive);
/// throws std::invalid_argument for anything else.
int pocoPriorityOf(const std::string& pythonLevel);

} // namespace dq::kernel
