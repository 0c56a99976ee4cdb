#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

// White-box: the malformed-record cases write records into a mailbox the way a buggy process
// could, past the typed send API.
#include "mailbox.hpp"

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::actor_errc;
using proctor::mailbox_overflow;

// -- messages ----------------------------------------------------------------------------------

/// Keeps the receiver busy in its handler until the event it was spawned with is set.
struct mb_hold {};
PROCTOR_MESSAGE(mb_hold, "test.mailbox.hold");

/// Keeps the receiver busy for `ms`.
struct mb_hold_for {
  std::int32_t ms;
};
PROCTOR_MESSAGE(mb_hold_for, "test.mailbox.hold_for");

/// Sent by the receiver to its observer when it starts holding.
struct mb_holding {};
PROCTOR_MESSAGE(mb_holding, "test.mailbox.holding");

/// Counted by the receiver.
struct mb_fill {
  std::int32_t n;
};
PROCTOR_MESSAGE(mb_fill, "test.mailbox.fill");

/// Answered with the number of mb_fill handled so far.
struct mb_count {};
PROCTOR_MESSAGE(mb_count, "test.mailbox.count");

/// Handled, with an inspect overload (CAF encoding).
struct mb_numbers {
  std::vector<std::int64_t> values;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mb_numbers& x) {
  return f(caf::meta::type_name("mb_numbers"), x.values);
}
PROCTOR_MESSAGE(mb_numbers, "test.mailbox.numbers");

/// Registered, but the receiver has no handler for it.
struct mb_stray {
  std::int32_t n;
};
PROCTOR_MESSAGE(mb_stray, "test.mailbox.stray");

// -- the receiver ------------------------------------------------------------------------------

namespace mailbox {

class holder {
 public:
  holder(proctor::actor& self, proctor::actor_ref observer, proctor::event release)
    : self_(self), observer_(std::move(observer)), release_(std::move(release)) {}

  proctor::behavior make_behavior() {
    return {pid_handler(),
            [this](const mb_hold&) {
              (void)self_.send(observer_, mb_holding{});
              (void)release_.wait(patience);
            },
            [this](const mb_hold_for& h) {
              (void)self_.send(observer_, mb_holding{});
              std::this_thread::sleep_for(std::chrono::milliseconds(h.ms));
            },
            [this](const mb_fill&) { ++fills_; },
            [this](const mb_numbers& x) { return static_cast<std::int32_t>(x.values.size()); },
            [this](const std::string& s) { return static_cast<std::int32_t>(s.size()); },
            [this](const mb_count&) { return fills_; }};
  }

 private:
  proctor::actor& self_;
  proctor::actor_ref observer_;
  proctor::event release_;
  std::int32_t fills_ = 0;
};

} // namespace mailbox

namespace {

/// Options for a receiver whose mailbox holds at most `messages` messages.
proctor::spawn_options small_mailbox(mailbox_overflow policy, std::size_t messages,
                                     std::chrono::milliseconds block_timeout) {
  auto opts = on(proctor::start_method::fork, "holder");
  opts.overflow = policy;
  opts.mailbox_messages = messages;
  opts.block_timeout = block_timeout;
  return opts;
}

/// Sends mb_hold and waits until the receiver is inside its handler, its mailbox empty.
void make_busy(proctor::scoped_actor& self, const proctor::actor_ref& receiver) {
  REQUIRE(self.send(receiver, mb_hold{}));
  REQUIRE(self.receive(patience, [](const mb_holding&) {}));
}

} // namespace

// -- overflow ----------------------------------------------------------------------------------

TEST_CASE("a full actor mailbox with policy block fails a send with mailbox_full after the "
          "block timeout",
          "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    auto receiver = proctor::spawn<mailbox::holder>(
      small_mailbox(mailbox_overflow::block, 4, 300ms), self.ref(), release);
    make_busy(self, receiver);
    for (std::int32_t i = 0; i < 4; ++i)
      REQUIRE(self.send(receiver, mb_fill{i}));
    CHECK(proctor::stats(receiver)->queued == 4);
    auto began = std::chrono::steady_clock::now();
    auto sent = self.send(receiver, mb_fill{4});
    auto waited = std::chrono::steady_clock::now() - began;
    REQUIRE_FALSE(sent);
    CHECK(sent.error().code == actor_errc::mailbox_full);
    CHECK(waited >= 300ms); // it did block (a lower bound: true however slow the machine)
    release.set();
    auto count = self.request<std::int32_t>(receiver, patience, mb_count{});
    REQUIRE(count);
    CHECK(*count == 4);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a send blocked on a full actor mailbox goes through once the actor makes room",
          "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release; // unused here
    auto receiver = proctor::spawn<mailbox::holder>(
      small_mailbox(mailbox_overflow::block, 4, std::chrono::milliseconds{patience}), self.ref(),
      release);
    REQUIRE(self.send(receiver, mb_hold_for{300}));
    REQUIRE(self.receive(patience, [](const mb_holding&) {}));
    for (std::int32_t i = 0; i < 6; ++i) {
      auto sent = self.send(receiver, mb_fill{i});
      INFO("send " << i << ": " << (sent ? "ok" : to_string(sent.error())));
      REQUIRE(sent);
    }
    auto count = self.request<std::int32_t>(receiver, patience, mb_count{});
    REQUIRE(count);
    CHECK(*count == 6);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a full actor mailbox with policy fail fails a send with mailbox_full at once",
          "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    // A block timeout far beyond the test's timeout: a send that waited for it would hang.
    auto receiver = proctor::spawn<mailbox::holder>(
      small_mailbox(mailbox_overflow::fail, 4, std::chrono::milliseconds{1h}), self.ref(),
      release);
    make_busy(self, receiver);
    for (std::int32_t i = 0; i < 4; ++i)
      REQUIRE(self.send(receiver, mb_fill{i}));
    auto sent = self.send(receiver, mb_fill{4});
    REQUIRE_FALSE(sent);
    CHECK(sent.error().code == actor_errc::mailbox_full);
    auto request = self.request<std::int32_t>(receiver, patience, mb_count{});
    REQUIRE_FALSE(request);
    CHECK(request.error().code == actor_errc::mailbox_full);
    release.set();
    // Full until the receiver has taken a message: ask again while the answer is mailbox_full.
    auto count = self.request<std::int32_t>(receiver, patience, mb_count{});
    for (int attempt = 0;
         attempt < 10'000 && !count && count.error().code == actor_errc::mailbox_full; ++attempt) {
      std::this_thread::sleep_for(1ms);
      count = self.request<std::int32_t>(receiver, patience, mb_count{});
    }
    INFO((count ? "answered" : to_string(count.error())));
    REQUIRE(count);
    CHECK(*count == 4);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a full actor mailbox with policy drop reports success and counts the dropped "
          "messages",
          "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    auto receiver = proctor::spawn<mailbox::holder>(
      small_mailbox(mailbox_overflow::drop, 4, std::chrono::milliseconds{1h}), self.ref(),
      release);
    make_busy(self, receiver);
    for (std::int32_t i = 0; i < 10; ++i)
      REQUIRE(self.send(receiver, mb_fill{i}));
    auto st = proctor::stats(receiver);
    REQUIRE(st);
    CHECK(st->dropped == 6);
    CHECK(st->queued == 4);
    release.set();
    // The request itself may be dropped while the mailbox is still full: ask until answered.
    std::optional<std::int32_t> count;
    for (int attempt = 0; attempt < 100 && !count; ++attempt) {
      auto r = self.request<std::int32_t>(receiver, 1s, mb_count{});
      if (r)
        count = *r;
    }
    REQUIRE(count);
    CHECK(*count == 4);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a message bigger than an actor's mailbox fails with too_large", "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    auto opts = on(proctor::start_method::fork, "small");
    opts.mailbox_bytes = 4096;
    auto small = proctor::spawn<mailbox::holder>(opts, self.ref(), release);
    auto big = proctor::spawn<mailbox::holder>(on(proctor::start_method::fork, "big"), self.ref(),
                                               release);

    auto sent = self.send(small, std::string(10'000, 'x'));
    REQUIRE_FALSE(sent);
    INFO(to_string(sent.error()));
    CHECK(sent.error().code == actor_errc::too_large);
    auto asked = self.request<std::int32_t>(small, patience, std::string(10'000, 'x'));
    REQUIRE_FALSE(asked);
    CHECK(asked.error().code == actor_errc::too_large);
    // The default mailbox (256 KiB) takes neither 1 MiB.
    auto huge = self.send(big, std::string(1 << 20, 'y'));
    REQUIRE_FALSE(huge);
    CHECK(huge.error().code == actor_errc::too_large);
    // Both go on with messages that fit.
    CHECK(self.request<std::int32_t>(small, patience, std::string(100, 'x')).value() == 100);
    CHECK(self.request<std::int32_t>(big, patience, std::string(100'000, 'y')).value() == 100'000);
    stop(self, small);
    stop(self, big);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// -- bad input ---------------------------------------------------------------------------------

TEST_CASE("messages of a type the actor does not handle are counted as dead letters and the "
          "actor goes on",
          "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    auto receiver = proctor::spawn<mailbox::holder>(on(proctor::start_method::fork, "holder"),
                                                    self.ref(), release);
    for (std::int32_t i = 0; i < 3; ++i) {
      REQUIRE(self.send(receiver, mb_stray{i}));
      REQUIRE(self.send(receiver, mb_fill{i}));
    }
    // An id no program registered: a dead letter too, never a crash.
    auto link = proctor::detail::link_of(receiver);
    REQUIRE(link);
    REQUIRE_FALSE(link->put(0x0123456789abcdefull, 0, 0, nullptr, "??"));
    auto count = self.request<std::int32_t>(receiver, patience, mb_count{});
    REQUIRE(count);
    CHECK(*count == 3);
    auto st = proctor::stats(receiver);
    REQUIRE(st);
    CHECK(st->dead_letters == 4);
    CHECK(st->malformed == 0);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a malformed record is skipped and counted, and the actor goes on", "[actor][mailbox]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    auto receiver = proctor::spawn<mailbox::holder>(on(proctor::start_method::fork, "holder"),
                                                    self.ref(), release);
    auto link = proctor::detail::link_of(receiver);
    REQUIRE(link);
    using proctor::message_traits;
    // A memcpy type (4 bytes) with 3 bytes.
    REQUIRE_FALSE(
      link->put(message_traits<mb_fill>::id, 0, 0, nullptr, std::string_view{"\1\2\3", 3}));
    REQUIRE(self.send(receiver, mb_fill{0}));
    // A CAF-encoded type with bytes that do not decode (a sequence longer than the record).
    REQUIRE_FALSE(link->put(message_traits<mb_numbers>::id, 0, 0, nullptr,
                            std::string_view{"\xff\xff\xff\xff\x0f\x01", 6}));
    REQUIRE(self.send(receiver, mb_fill{1}));
    // A record shorter than an envelope, straight into the ring.
    REQUIRE_FALSE(link->messages().put("abc", 3, std::chrono::steady_clock::now()));
    link->ring_bell();
    REQUIRE(self.send(receiver, mb_fill{2}));

    auto count = self.request<std::int32_t>(receiver, patience, mb_count{});
    REQUIRE(count);
    CHECK(*count == 3);
    CHECK(self.request<std::int32_t>(receiver, patience, mb_numbers{{1, 2, 3}}).value() == 3);
    auto st = proctor::stats(receiver);
    REQUIRE(st);
    CHECK(st->malformed == 3);
    CHECK(st->dead_letters == 0);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("randomly damaged records never crash an actor: each is handled, skipped or counted",
          "[actor][mailbox][fuzz]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::event release;
    auto receiver = proctor::spawn<mailbox::holder>(on(proctor::start_method::fork, "holder"),
                                                    self.ref(), release);
    auto link = proctor::detail::link_of(receiver);
    REQUIRE(link);
    using proctor::message_traits;
    constexpr std::uint32_t seed = 20261123;
    std::mt19937 rng{seed};
    auto below = [&](std::size_t n) {
      return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng);
    };
    auto random_bytes = [&](std::size_t n) {
      std::string b(n, '\0');
      for (auto& c : b)
        c = static_cast<char>(below(256));
      return b;
    };
    // Any flags but the runtime's own (a process that may write the mailbox may send real exit
    // signals anyway): requests, replies, errors.
    auto flags = [&] {
      return static_cast<std::uint32_t>(below(16)) & ~proctor::detail::flag_system;
    };
    std::int32_t fills = 0;
    for (int i = 0; i < 2000; ++i) {
      INFO("seed " << seed << ", record " << i);
      switch (below(3)) {
        case 0: { // a CAF-encoded message, damaged
          mb_numbers m;
          m.values.resize(below(20));
          for (auto& v : m.values)
            v = static_cast<std::int64_t>(rng());
          std::vector<char> scratch;
          std::string bytes{proctor::detail::item_bytes(m, scratch)};
          for (std::size_t n = 1 + below(3); n > 0 && !bytes.empty(); --n) {
            if (below(2) == 0)
              bytes[below(bytes.size())] = static_cast<char>(below(256));
            else
              bytes.resize(below(bytes.size() + 1));
          }
          REQUIRE_FALSE(link->put(message_traits<mb_numbers>::id, flags(), rng(), nullptr, bytes));
          break;
        }
        case 1: // a type nobody registered
          REQUIRE_FALSE(link->put((std::uint64_t{rng()} << 32) | rng(), flags(), rng(), nullptr,
                                  random_bytes(below(40))));
          break;
        case 2: { // bytes straight into the ring: envelope and all
          auto bytes = random_bytes(below(80));
          constexpr auto at = offsetof(proctor::detail::envelope, flags);
          if (bytes.size() >= at + 4)
            bytes[at] &= ~static_cast<char>(proctor::detail::flag_system);
          REQUIRE_FALSE(link->messages().put(bytes.data(), bytes.size(),
                                             std::chrono::steady_clock::now() + patience));
          link->ring_bell();
          break;
        }
      }
      if (i % 50 == 0) { // a sound message now and then, which must be handled
        REQUIRE(self.send(receiver, mb_fill{i}));
        ++fills;
      }
    }
    auto count = self.request<std::int32_t>(receiver, patience, mb_count{});
    REQUIRE(count);
    CHECK(*count == fills);
    CHECK(self.request<std::int32_t>(receiver, patience, mb_numbers{{1, 2, 3}}).value() == 3);
    auto st = proctor::stats(receiver);
    REQUIRE(st);
    CHECK(st->malformed > 0);
    CHECK(st->dead_letters > 0);
    stop(self, receiver);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
