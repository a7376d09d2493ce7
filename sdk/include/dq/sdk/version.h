// The SDK's ABI version: what a plugin was built against and what the kernel accepts.
#pragma once

// Plain numbers for the preprocessor: DQ_PLUGIN spells them into the exported marker's name.
#define DQ_SDK_ABI_MAJOR 2
#define DQ_SDK_ABI_MINOR 1

namespace dq::sdk {

/// Major: incompatible changes of any SDK interface. A plugin built for another major is refused.
inline constexpr int kAbiMajor = DQ_SDK_ABI_MAJOR;
/// Minor: additions only. A plugin built against a newer minor than the kernel's is refused;
/// an older minor is accepted.
inline constexpr int kAbiMinor = DQ_SDK_ABI_MINOR;

/// The server release this SDK belongs to (also reported by `GET /api/version`).
inline constexpr const char* kServerVersion = "3.11.1";

/// The ELF section that holds the plugin's exported symbols. The kernel lists it with
/// boost::dll::library_info, which reads the file without running any of its code.
inline constexpr const char* kPluginSection = "dqplugin";

} // namespace dq::sdk
