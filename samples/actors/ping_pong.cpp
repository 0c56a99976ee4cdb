// Actors: two actors, each its own process, bounce a ball (a counter) back and forth.
//
//     pong:  on ball n           -> send ball n back to whoever sent it
//     ping:  on rally of N       -> send ball 1 to pong
//            on ball n (back)    -> n < N ? send ball n+1 : tell main the rally is over
//
// Lesson: an actor is a process with a mailbox. proctor::spawn<...>() starts one and returns its
// actor_ref, the address of that mailbox; send() puts a typed message into it; the actor's
// behavior — one handler per message type — takes the messages out one at a time. Nothing is
// shared: the ball crosses from one process to the other inside a message, and each side prints
// its own pid. main() joins in through a scoped_actor, a mailbox of its own.
//
// First 10 round trips are printed, then 10,000 more are played quietly and timed. Then main
// monitors both players and sends ping `game_over`; ping passes it on to pong, both quit, and main
// receives one DOWN message for each, with the exit reason `normal`.
//
// Expected output (pids and ids differ; the two DOWN lines may come in either order):
//     main (pid 100) spawned <actor pong#5c0e51aa pid 101> and <actor ping#9d21c3f0 pid 102>
//     ping (pid 102) serves ball 1
//     pong (pid 101) returns ball 1
//     ...
//     ping (pid 102) got ball 10 back: 10 round trips done
//     main: 10 round trips took 412 us
//     main: 10000 quiet round trips took 61 ms: 6.1 us per round trip
//     ping (pid 102): game over
//     pong (pid 101): game over
//     main: DOWN from <actor ping#9d21c3f0 pid 102>: normal
//     main: DOWN from <actor pong#5c0e51aa pid 101>: normal
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

namespace {

struct ball {
  std::int64_t number; ///< Which round trip this is.
  bool loud;           ///< Whether the players print it.
};
struct rally {
  std::int64_t round_trips; ///< main -> ping: play this many, then report.
  bool loud;
};
struct rally_over {
  std::int64_t round_trips; ///< ping -> main: done, in this many nanoseconds.
  std::int64_t nanoseconds;
};
struct game_over {}; ///< main -> ping -> pong: time to quit.

} // namespace

// Every message type has a stable name: every process agrees on it, however it was started.
PROCTOR_MESSAGE(ball, "samples.ping_pong.ball");
PROCTOR_MESSAGE(rally, "samples.ping_pong.rally");
PROCTOR_MESSAGE(rally_over, "samples.ping_pong.rally_over");
PROCTOR_MESSAGE(game_over, "samples.ping_pong.game_over");

namespace {

using clock_type = std::chrono::steady_clock;

/// "pong (pid 101)": who is speaking, and in which process.
std::string who(const char* name) {
  return std::string{name} + " (pid " + std::to_string(proctor::current_process().pid) + ")";
}

/// A function actor: it has no state, so a function returning its behavior is enough.
proctor::behavior pong(proctor::actor& self) {
  return {
    [&self](const ball& b) {
      if (b.loud)
        std::cout << who("pong") << " returns ball " << b.number << std::endl;
      (void)self.send(self.current_sender(), b); // back to whoever sent it: ping
    },
    [&self](game_over) {
      std::cout << who("pong") << ": game over" << std::endl;
      self.quit(); // exit reason: normal
    },
  };
}

/// A class actor: it keeps state between messages (the rally in progress) in its members.
class ping {
 public:
  ping(proctor::actor& self, proctor::actor_ref partner)
    : self_(self), partner_(std::move(partner)) {}

  proctor::behavior make_behavior() {
    return {
      [this](const rally& r) {
        coach_ = self_.current_sender(); // main: told when the rally is over
        goal_ = r.round_trips;
        started_ = clock_type::now();
        serve(ball{1, r.loud});
      },
      [this](const ball& b) {
        if (b.number < goal_) {
          serve(ball{b.number + 1, b.loud});
          return;
        }
        if (b.loud)
          std::cout << who("ping") << " got ball " << b.number << " back: " << goal_
                    << " round trips done" << std::endl;
        auto took = clock_type::now() - started_;
        (void)self_.send(coach_, rally_over{goal_, std::chrono::nanoseconds{took}.count()});
      },
      [this](game_over g) {
        std::cout << who("ping") << ": game over" << std::endl;
        (void)self_.send(partner_, g);
        self_.quit();
      },
    };
  }

 private:
  void serve(const ball& b) {
    if (b.loud)
      std::cout << who("ping") << " serves ball " << b.number << std::endl;
    (void)self_.send(partner_, b);
  }

  proctor::actor& self_;
  proctor::actor_ref partner_;
  proctor::actor_ref coach_;
  std::int64_t goal_ = 0;
  clock_type::time_point started_;
};

/// Has ping play `round_trips`, and waits for its report. nullopt if none came within 10 s.
std::optional<std::chrono::nanoseconds> play(proctor::scoped_actor& self,
                                             const proctor::actor_ref& pinger,
                                             std::int64_t round_trips, bool loud) {
  (void)self.send(pinger, rally{round_trips, loud});
  std::optional<std::chrono::nanoseconds> took;
  self.receive(std::chrono::seconds{10},
               [&](const rally_over& r) { took = std::chrono::nanoseconds{r.nanoseconds}; });
  return took;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "two actor processes bounce a ball back and forth");
  proctor::scoped_actor self{"main"};

  // Each spawn starts a process and returns once the actor is ready to take messages.
  auto ponger = proctor::spawn<pong>(proctor::spawn_options{.name = "pong"});
  auto pinger = proctor::spawn<ping>(proctor::spawn_options{.name = "ping"}, ponger);
  std::cout << "main (pid " << proctor::current_process().pid << ") spawned " << ponger << " and "
            << pinger << std::endl;

  auto loud = play(self, pinger, 10, true);
  auto quiet = play(self, pinger, 10'000, false);
  if (!loud || !quiet) {
    std::cerr << "ping_pong: ping never reported the end of a rally\n";
    return 1;
  }
  using std::chrono::duration_cast;
  std::cout << "main: 10 round trips took "
            << duration_cast<std::chrono::microseconds>(*loud).count() << " us" << std::endl;
  std::cout << "main: 10000 quiet round trips took "
            << duration_cast<std::chrono::milliseconds>(*quiet).count() << " ms: " << std::fixed
            << std::setprecision(1) << static_cast<double>(quiet->count()) / 10'000 / 1'000
            << " us per round trip" << std::endl;

  // A monitor delivers one DOWN message when the actor ends, with its exit reason.
  self.monitor(pinger);
  self.monitor(ponger);
  (void)self.send(pinger, game_over{});
  int status = 0;
  for (int downs = 0; downs < 2; ++downs) {
    bool got = self.receive(std::chrono::seconds{5}, [&](const proctor::down_msg& down) {
      std::cout << "main: DOWN from " << down.source << ": " << to_string(down.reason) << std::endl;
      if (!down.reason.is_normal())
        status = 1;
    });
    if (!got) {
      std::cerr << "ping_pong: a player did not stop\n";
      return 1;
    }
  }
  return status;
}
