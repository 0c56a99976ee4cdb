// Must not compile: a type that was never registered with PROCTOR_MESSAGE used as a message.
// NOT_A_MESSAGE_USE picks the use: 1 send, 2 request, 3 a behavior's handler.
#include <proctor/scoped_actor.hpp>

struct never_registered {
  int x;
};

int main() {
  proctor::scoped_actor self;
#if NOT_A_MESSAGE_USE == 1
  (void)self.send(self.ref(), never_registered{1});
#elif NOT_A_MESSAGE_USE == 2
  (void)self.request<int>(self.ref(), std::chrono::seconds(1), never_registered{1});
#else
  proctor::behavior b{[](const never_registered&) {}};
#endif
}
