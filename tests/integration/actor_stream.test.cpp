#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::actor_ref;

// -- messages ----------------------------------------------------------------------------------

/// One record of a stream: its content derives from (stream, seq), so the receiver can check it.
struct st_item {
  std::int32_t stream;
  std::int32_t seq;
  std::uint64_t fill[8];
};
PROCTOR_MESSAGE(st_item, "test.stream.item");

/// A variable-size record of a stream (CAF-encoded), checked the same way.
struct st_text {
  std::int32_t stream = 0;
  std::int32_t seq = 0;
  std::string body;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, st_text& x) {
  return f(caf::meta::type_name("st_text"), x.stream, x.seq, x.body);
}
PROCTOR_MESSAGE(st_text, "test.stream.text");

/// Tells a streamer to send to `to` until it is killed, and to tell `observer` once `mark`
/// records are out.
struct st_go {
  actor_ref to;
  actor_ref observer;
  std::int32_t stream = 0;
  std::int32_t mark = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, st_go& x) {
  return f(caf::meta::type_name("st_go"), x.to, x.observer, x.stream, x.mark);
}
PROCTOR_MESSAGE(st_go, "test.stream.go");

struct st_marked {};
PROCTOR_MESSAGE(st_marked, "test.stream.marked");

/// Answered with what the collector has seen of `stream`.
struct st_report_of {
  std::int32_t stream;
};
PROCTOR_MESSAGE(st_report_of, "test.stream.report_of");

struct st_report {
  std::int32_t received = 0; ///< Records of the stream.
  std::int32_t gaps = 0;     ///< Records whose seq was not the next one.
  std::int32_t corrupt = 0;  ///< Records whose content does not match their (stream, seq).
};
PROCTOR_MESSAGE(st_report, "test.stream.report");

namespace {

std::uint64_t fill_word(std::int32_t stream, std::int32_t seq, int i) {
  return (static_cast<std::uint64_t>(stream) << 40) ^ (static_cast<std::uint64_t>(seq) << 8)
         ^ static_cast<std::uint64_t>(i) ^ 0x9e3779b97f4a7c15ull;
}

std::string text_body(std::int32_t stream, std::int32_t seq) {
  // 0 to 400 bytes, all derived from (stream, seq).
  std::string body(static_cast<std::size_t>((seq * 37) % 401), '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + (stream + seq + static_cast<std::int32_t>(i)) % 26);
  return body;
}

} // namespace

// -- actors ------------------------------------------------------------------------------------

namespace stream {

/// Sends an endless stream (alternating fixed and variable records) once told to go.
proctor::behavior streamer(proctor::actor& self) {
  return {pid_handler(), [&self](const st_go& go) {
            for (std::int32_t seq = 0;; ++seq) {
              if (seq % 2 == 0) {
                st_item item{go.stream, seq, {}};
                for (int i = 0; i < 8; ++i)
                  item.fill[i] = fill_word(go.stream, seq, i);
                while (!self.send(go.to, item)) { // a full mailbox: try again, skip nothing
                }
              } else {
                st_text text{go.stream, seq, text_body(go.stream, seq)};
                while (!self.send(go.to, text)) {
                }
              }
              if (seq + 1 == go.mark)
                (void)self.send(go.observer, st_marked{});
            }
          }};
}

/// Checks every record it gets, per stream.
class collector {
 public:
  proctor::behavior make_behavior() {
    return {pid_handler(),
            [this](const st_item& item) {
              bool ok = true;
              for (int i = 0; i < 8; ++i)
                ok = ok && item.fill[i] == fill_word(item.stream, item.seq, i);
              note(item.stream, item.seq, ok);
            },
            [this](const st_text& t) {
              note(t.stream, t.seq, t.body == text_body(t.stream, t.seq));
            },
            [this](const st_report_of& r) { return reports_[r.stream]; }};
  }

 private:
  void note(std::int32_t stream, std::int32_t seq, bool intact) {
    if (stream < 0 || stream >= 16) {
      ++reports_[15].corrupt;
      return;
    }
    auto& r = reports_[stream];
    if (seq != r.received)
      ++r.gaps;
    if (!intact)
      ++r.corrupt;
    ++r.received;
  }

  st_report reports_[16];
};

} // namespace stream

TEST_CASE("a sending actor killed mid-stream leaves the receiving actor working with an intact "
          "prefix of the stream",
          "[actor][stream]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto opts = on(m, "collector");
    opts.mailbox_bytes = 64 * 1024; // full now and then: senders also die while waiting for room
    auto collector = proctor::spawn<stream::collector>(opts);
    for (std::int32_t round = 0; round < 5; ++round) {
      INFO("round " << round);
      auto streamer = proctor::spawn<stream::streamer>(on(m, "streamer"));
      auto pid = pid_of(self, streamer);
      REQUIRE(pid > 0);
      auto mon = self.monitor(streamer);
      REQUIRE(self.send(streamer, st_go{collector, self.ref(), round, 1000 + 700 * round}));
      REQUIRE(self.receive(patience, [](const st_marked&) {}));
      REQUIRE(::kill(pid, SIGKILL) == 0); // from outside: no exit signal, no warning
      auto down = wait_down(self, mon);
      REQUIRE(down);
      CHECK(down->reason.kind == proctor::exit_kind::signal);
      CHECK(down->reason.code == SIGKILL);

      auto report = self.request<st_report>(collector, patience, st_report_of{round});
      REQUIRE(report);
      CHECK(report->received >= 1000 + 700 * round);
      CHECK(report->gaps == 0);
      CHECK(report->corrupt == 0);
    }
    auto strays = self.request<st_report>(collector, patience, st_report_of{15});
    REQUIRE(strays);
    CHECK(strays->corrupt == 0);
    auto st = proctor::stats(collector);
    REQUIRE(st);
    CHECK(st->malformed == 0);
    CHECK(st->dead_letters == 0);
    stop(self, collector);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
