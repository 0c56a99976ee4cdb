#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;

// -- messages ----------------------------------------------------------------------------------

struct msg_item {
  std::int32_t n;
};
PROCTOR_MESSAGE(msg_item, "test.messaging.item");

struct msg_report {
  std::int32_t received = 0;
  std::int32_t out_of_order = 0;
  std::int32_t first_bad = -1;
};
PROCTOR_MESSAGE(msg_report, "test.messaging.report");

struct msg_done {};
PROCTOR_MESSAGE(msg_done, "test.messaging.done");

struct msg_produce {
  proctor::actor_ref to;
  std::int32_t count;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, msg_produce& x) {
  return f(caf::meta::type_name("msg_produce"), x.to, x.count);
}
PROCTOR_MESSAGE(msg_produce, "test.messaging.produce");

/// Trivially copyable: travels by memcpy.
struct msg_point {
  double x;
  double y;
  std::int32_t id;
  char tag[12];
  friend bool operator==(const msg_point&, const msg_point&) = default;
};
PROCTOR_MESSAGE(msg_point, "test.messaging.point");
static_assert(proctor::detail::is_memcpy_item_v<msg_point>);

struct msg_place {
  std::string name;
  double latitude = 0;
  friend bool operator==(const msg_place&, const msg_place&) = default;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, msg_place& x) {
  return f(caf::meta::type_name("msg_place"), x.name, x.latitude);
}

/// With an inspect overload: travels through CAF's binary serializer.
struct msg_person {
  std::string name;
  std::vector<std::int32_t> scores;
  std::map<std::string, std::string> tags;
  std::vector<msg_place> places;
  friend bool operator==(const msg_person&, const msg_person&) = default;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, msg_person& x) {
  return f(caf::meta::type_name("msg_person"), x.name, x.scores, x.tags, x.places);
}
PROCTOR_MESSAGE(msg_person, "test.messaging.person");
static_assert(!proctor::detail::is_memcpy_item_v<msg_person>);

/// Asks the receiver to send `n * 2` to `reply_to`.
struct msg_double_to {
  proctor::actor_ref reply_to;
  std::int32_t n;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, msg_double_to& x) {
  return f(caf::meta::type_name("msg_double_to"), x.reply_to, x.n);
}
PROCTOR_MESSAGE(msg_double_to, "test.messaging.double_to");

/// Asks the receiver to pass `inner` on to `via`, which answers `inner.reply_to`.
struct msg_relay {
  proctor::actor_ref via;
  msg_double_to inner;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, msg_relay& x) {
  return f(caf::meta::type_name("msg_relay"), x.via, x.inner);
}
PROCTOR_MESSAGE(msg_relay, "test.messaging.relay");

struct msg_doubled {
  std::int32_t value;
  std::uint64_t answered_by; ///< The id of the actor that answered.
};
PROCTOR_MESSAGE(msg_doubled, "test.messaging.doubled");

/// The receiver answers with current_sender(): a ref that crossed as the envelope's sender.
struct msg_who_sent {};
PROCTOR_MESSAGE(msg_who_sent, "test.messaging.who_sent");

/// A ref as a message's payload, returned as is.
struct msg_ref_box {
  proctor::actor_ref ref;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, msg_ref_box& x) {
  return f(caf::meta::type_name("msg_ref_box"), x.ref);
}
PROCTOR_MESSAGE(msg_ref_box, "test.messaging.ref_box");

// -- actors ------------------------------------------------------------------------------------

namespace messaging {

/// Counts msg_items and checks that they come numbered 0, 1, 2, ...; answers msg_done with a
/// msg_report.
class sequence_checker {
 public:
  proctor::behavior make_behavior() {
    return {pid_handler(),
            [this](const msg_item& item) {
              if (item.n != report_.received && report_.out_of_order++ == 0)
                report_.first_bad = report_.received;
              ++report_.received;
            },
            [this](const msg_done&) { return report_; }};
  }

 private:
  msg_report report_;
};

/// On msg_produce, sends items 0..count-1 to `to`, then msg_done is up to the test.
proctor::behavior producer(proctor::actor& self) {
  return {pid_handler(), [&self](const msg_produce& p) {
            for (std::int32_t i = 0; i < p.count; ++i)
              if (!self.send(p.to, msg_item{i}))
                throw std::runtime_error("send failed at item " + std::to_string(i));
          }};
}

/// Answers every supported type with the value it received.
proctor::behavior echo(proctor::actor&) {
  return {pid_handler(),
          [](const msg_point& p) { return p; },
          [](const msg_person& p) { return p; },
          [](const std::string& s) { return s; },
          [](const std::vector<std::int64_t>& v) { return v; },
          [](const std::vector<std::string>& v) { return v; },
          [](const std::int64_t& v) { return v; },
          [](const double& v) { return v; },
          [](const bool& v) { return v; },
          [](const msg_ref_box& b) { return b; }};
}

/// Uses refs it receives inside messages, and the sender's ref.
proctor::behavior relay(proctor::actor& self) {
  return {pid_handler(),
          [&self](const msg_double_to& d) {
            (void)self.send(d.reply_to, msg_doubled{d.n * 2, self.ref().id()});
          },
          [&self](const msg_relay& r) { (void)self.send(r.via, r.inner); },
          [&self](const msg_who_sent&) { return msg_ref_box{self.current_sender()}; }};
}

} // namespace messaging

// -- tests -------------------------------------------------------------------------------------

TEST_CASE("10,000 messages to an actor from one sender arrive in the order they were sent",
          "[actor][messaging]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto checker = proctor::spawn<messaging::sequence_checker>(on(m, "checker"));
    constexpr std::int32_t n = 10'000;
    for (std::int32_t i = 0; i < n; ++i) {
      auto sent = self.send(checker, msg_item{i});
      REQUIRE(sent);
    }
    auto report = self.request<msg_report>(checker, patience, msg_done{});
    REQUIRE(report);
    CHECK(report->received == n);
    CHECK(report->out_of_order == 0);
    CHECK(report->first_bad == -1);
    stop(self, checker);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("10,000 messages from one actor to another arrive in order", "[actor][messaging]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto checker = proctor::spawn<messaging::sequence_checker>(on(m, "checker"));
    auto producer = proctor::spawn<messaging::producer>(on(m, "producer"));
    constexpr std::int32_t n = 10'000;
    // The request comes back once every item is in the checker's mailbox.
    auto produced = self.request<proctor::ok_msg>(producer, patience, msg_produce{checker, n});
    REQUIRE(produced);
    auto report = self.request<msg_report>(checker, patience, msg_done{});
    REQUIRE(report);
    CHECK(report->received == n);
    CHECK(report->out_of_order == 0);
    stop(self, producer);
    stop(self, checker);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("trivially copyable structs and types with inspect reach an actor intact",
          "[actor][messaging]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto echo = proctor::spawn<messaging::echo>(on(m, "echo"));

    msg_point p{1.5, -2.25, 42, "north"};
    CHECK(self.request<msg_point>(echo, patience, p).value() == p);

    msg_person someone{"Ada", {1, 2, 3}, {{"role", "engineer"}, {"lang", "C++"}},
                       {{"London", 51.5}, {"", -0.0}}};
    CHECK(self.request<msg_person>(echo, patience, someone).value() == someone);
    msg_person empty{};
    CHECK(self.request<msg_person>(echo, patience, empty).value() == empty);

    std::string text = "héllo\0world";
    text.push_back('\0');
    text += "after a NUL";
    CHECK(self.request<std::string>(echo, patience, text).value() == text);
    CHECK(self.request<std::string>(echo, patience, std::string{}).value().empty());
    std::string big(100'000, 'x');
    for (std::size_t i = 0; i < big.size(); i += 7)
      big[i] = static_cast<char>('a' + i % 26);
    CHECK(self.request<std::string>(echo, patience, big).value() == big);

    std::vector<std::int64_t> numbers{-1, 0, 1, INT64_MAX, INT64_MIN};
    CHECK(self.request<std::vector<std::int64_t>>(echo, patience, numbers).value() == numbers);
    std::vector<std::string> words{"a", "", "ccc", std::string(1000, 'z')};
    CHECK(self.request<std::vector<std::string>>(echo, patience, words).value() == words);
    CHECK(self.request<std::int64_t>(echo, patience, std::int64_t{-77}).value() == -77);
    CHECK(self.request<double>(echo, patience, 0.1).value() == 0.1);
    CHECK(self.request<bool>(echo, patience, true).value() == true);
    stop(self, echo);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a ref inside a message lets its receiver send to the actor it names",
          "[actor][messaging]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto first = proctor::spawn<messaging::relay>(on(m, "first"));
    auto second = proctor::spawn<messaging::relay>(on(m, "second"));

    // One hop: `first` answers the ref in the message, not the sender.
    proctor::scoped_actor other{"other"};
    REQUIRE(self.send(first, msg_double_to{other.ref(), 21}));
    msg_doubled got{};
    REQUIRE(other.receive(patience, [&](const msg_doubled& d) { got = d; }));
    CHECK(got.value == 42);
    CHECK(got.answered_by == first.id());

    // Two hops: `first` passes the message to `second` (a ref it got in the message), which
    // answers this scoped actor (a ref that crossed twice).
    REQUIRE(self.send(first, msg_relay{second, msg_double_to{self.ref(), 50}}));
    REQUIRE(self.receive(patience, [&](const msg_doubled& d) { got = d; }));
    CHECK(got.value == 100);
    CHECK(got.answered_by == second.id());

    // The sender's ref, as the receiver sees it, names the sender.
    auto seen = self.request<msg_ref_box>(first, patience, msg_who_sent{});
    REQUIRE(seen);
    CHECK(seen->ref == self.ref());
    stop(self, first);
    stop(self, second);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("actor refs compare, hash and print, also after a round trip through a message",
          "[actor][messaging]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto a = proctor::spawn<messaging::echo>(on(proctor::start_method::fork, "alpha"));
    auto b = proctor::spawn<messaging::echo>(on(proctor::start_method::fork, "beta"));
    proctor::actor_ref a_copy = a;
    proctor::actor_ref none;

    CHECK(a == a_copy);
    CHECK(a != b);
    CHECK((a < b) != (b < a));
    CHECK_FALSE(none);
    CHECK(none == proctor::actor_ref{});
    CHECK(none != a);
    CHECK(a.name() == "alpha");
    CHECK(b.name() == "beta");

    std::unordered_set<proctor::actor_ref> set{a, b, a_copy};
    CHECK(set.size() == 2);

    // Through a message and back: a new ref object, the same actor.
    auto back = self.request<msg_ref_box>(a, patience, msg_ref_box{b});
    REQUIRE(back);
    CHECK(back->ref == b);
    CHECK(std::hash<proctor::actor_ref>{}(back->ref) == std::hash<proctor::actor_ref>{}(b));
    CHECK(set.contains(back->ref));
    CHECK(back->ref.name() == "beta");
    auto none_back = self.request<msg_ref_box>(a, patience, msg_ref_box{});
    REQUIRE(none_back);
    CHECK_FALSE(none_back->ref);

    auto text = proctor::to_string(a);
    CHECK_THAT(text, Catch::StartsWith("<actor alpha#"));
    CHECK_THAT(text, Catch::Contains("pid " + std::to_string(pid_of(self, a))));
    std::ostringstream out;
    out << b << ' ' << none;
    CHECK_THAT(out.str(), Catch::StartsWith("<actor beta#"));
    CHECK_THAT(out.str(), Catch::EndsWith(" <no actor>"));
    // A ref that came through a message prints the same.
    CHECK(proctor::to_string(back->ref) == proctor::to_string(b));
    stop(self, a);
    stop(self, b);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
