%% mailbox_n1, impl `erlang`: 20 sender processes each send COUNT small messages to one receiver
%% process (this one), in one VM (OTP defaults); five timed rounds of COUNT/5 messages a sender,
%% after a warm-up round.
%%   escript mailbox_n1.erl COUNT
%% Prints the median messages per second of the rounds; a round lasts from the receiver's go to the
%% senders until it has received the round's last message.
-module(mailbox_n1).
-export([main/1]).
-mode(compile).
-include("bench_report.hrl").

-define(SENDERS, 20).
-define(TIMED_ROUNDS, 5).
-define(WARMUP_MESSAGES, 1000).

main(Args) ->
    bench_main(Args, fun(Count) ->
        Self = self(),
        Senders = [spawn_link(fun() -> sender(Self) end) || _ <- lists:seq(1, ?SENDERS)],
        N = max(1, Count div ?TIMED_ROUNDS),
        one_round(Senders, ?WARMUP_MESSAGES),
        Rates = [one_round(Senders, N) || _ <- lists:seq(1, ?TIMED_ROUNDS)],
        [S ! stop || S <- Senders],
        {bench_median(Rates), "msgs/s", "higher"}
    end).

%% Sends messages 0..N-1 to Receiver for each {go, N}.
sender(Receiver) ->
    receive
        {go, N} -> send_items(Receiver, 0, N), sender(Receiver);
        stop -> ok
    end.

send_items(_Receiver, N, N) -> ok;
send_items(Receiver, I, N) -> Receiver ! I, send_items(Receiver, I + 1, N).

%% Lets every sender send N messages and receives them all; returns messages per second.
one_round(Senders, N) ->
    Start = bench_now_ns(),
    [S ! {go, N} || S <- Senders],
    Sum = receive_items(?SENDERS * N, 0),
    Rate = ?SENDERS * N / ((bench_now_ns() - Start) / 1.0e9),
    Sum =:= ?SENDERS * (N * (N - 1) div 2) orelse error(message_lost_or_corrupted),
    Rate.

receive_items(0, Sum) -> Sum;
receive_items(Left, Sum) ->
    receive
        I when is_integer(I) -> receive_items(Left - 1, Sum + I)
    end.
