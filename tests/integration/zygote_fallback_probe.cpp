// A program whose new runs never reach proctor::init() (PROBE_NO_ZYGOTE set): a supervisor's
// zygote cannot be a new run of it, so it must be a fork, with a clear word on stderr, and the
// tree must work all the same.
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <proctor/proctor.hpp>

namespace {

proctor::behavior doubler(proctor::actor&) {
  return {[](std::int32_t x) { return x * 2; }};
}

} // namespace

int main(int argc, char** argv) {
  // As a program that parses its own arguments first and quits on one it does not know.
  if (argc > 1 && std::strcmp(argv[1], "--proctor-zygote") == 0 && std::getenv("PROBE_NO_ZYGOTE"))
    return 0;
  proctor::init(argc, argv);
  using namespace std::chrono_literals;
  proctor::supervisor_spec spec;
  spec.children.push_back({"doubler", proctor::child<doubler>()});
  auto sup = proctor::start_supervisor(spec, {.name = "fallback"});
  int code = 1;
  {
    proctor::scoped_actor self;
    auto kids = proctor::which_children(sup);
    if (kids && kids->size() == 1) {
      auto r = self.request<std::int32_t>(kids->front().ref, 30s, std::int32_t{21});
      if (r && *r == 42) {
        std::cout << "the supervised child answered 42" << std::endl;
        code = 0;
      }
    }
  }
  if (!proctor::stop_supervisor(sup))
    code = 1;
  return code;
}
