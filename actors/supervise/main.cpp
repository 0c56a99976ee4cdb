// supervise: runs a supervision tree of ready-made actors from a TOML file, without writing a
// main (see actors/examples/*.toml and `supervise --help`).
#include <proctor/actors/register_all.hpp>
#include <proctor/init.hpp>
#include <proctor/supervise.hpp>

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  proctor::actor_catalog catalog;
  proctor::actors::register_all(catalog);
  return proctor::supervise_main(argc, argv, catalog);
}
