#pragma once

#include "proctor/actor_catalog.hpp"

namespace proctor {

/// The main of a `supervise` program: runs the supervision tree a TOML file describes, with the
/// actors of `catalog` (see actors/examples/*.toml, and `--help` for the format):
///
///     supervise [--for SECONDS] FILE   run the tree; SIGINT or SIGTERM stops it in order (a
///                                      second one kills it); --for stops it after SECONDS
///     supervise --check FILE           only read and check the file
///     supervise --list                 the actors of the catalog and their arguments
///
/// It prints the tree with its pids, then every crash report as it happens. Returns the exit
/// status: 0 after an ordered stop, 1 when the tree did not start, ended on its own or had to be
/// killed, 2 for a bad command line or file (the message names the file, line, column and key).
///
///     int main(int argc, char** argv) {
///       proctor::init(argc, argv);
///       proctor::actor_catalog catalog;
///       proctor::actors::register_all(catalog);   // and the program's own actors
///       return proctor::supervise_main(argc, argv, catalog);
///     }
/// @note Call from the main thread, after proctor::init(), with nothing else running: it owns
/// SIGINT and SIGTERM while the tree runs.
int supervise_main(int argc, char** argv, const actor_catalog& catalog);

} // namespace proctor
