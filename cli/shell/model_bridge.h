// The C++ side of the shell's model classes: the embedded module `_dq_shell`, which reads the
// catalog's declarations and runs each read and each save in its own Database transaction.
#pragma once

namespace dq::kernel {
class Kernel;
}

namespace dq::cli::shell {

/// The kernel that `_dq_shell` works on; set before the module is imported, cleared before the
/// kernel goes away (calls made then raise db.Error instead of touching a dead kernel).
void attachKernel(kernel::Kernel* kernel);

/// Python source of the model layer (the `db` namespace, Scope, Operation, the console).
extern const char* const kModelsPython;

} // namespace dq::cli::shell
