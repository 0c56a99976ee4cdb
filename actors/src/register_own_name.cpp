#include "proctor/actors/register_own_name.hpp"

#include <stdexcept>
#include <string>

#include "proctor/registry.hpp"

namespace proctor::actors {

void register_own_name(actor& self) {
  auto name = self.ref().name();
  if (name.empty())
    return;
  // A restarted actor finds its name still held by its own ref (the same mailbox): that is fine.
  if (register_name(name, self.ref()) || whereis(name) == self.ref())
    return;
  throw std::runtime_error("the name '" + name
                           + "' is taken by another actor: " + to_string(whereis(name)));
}

} // namespace proctor::actors
