// vserver: the built-in commands and, from the same program, the commands of the enabled plugins.
#include "commands.h"

#include <iostream>

int main(int argc, char** argv) {
    return dq::cli::run(argc, argv, std::cout, std::cerr);
}
