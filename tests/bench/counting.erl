%% counting, impl `erlang`: Savina Counting between two Erlang processes in one VM (OTP defaults).
%%   escript counting.erl COUNT
%% The producer (this process) sends `increment` to a counter process, then asks it for the total
%% and checks it; COUNT messages in five timed rounds after a warm-up round (the counter keeps
%% counting across rounds). Prints the median messages per second of the rounds; a round lasts
%% from its first send until the total is back at the producer.
-module(counting).
-export([main/1]).
-mode(compile).
-include("bench_report.hrl").

-define(TIMED_ROUNDS, 5).
-define(WARMUP_MESSAGES, 1000).

main(Args) ->
    bench_main(Args, fun(Count) ->
        Counter = spawn_link(fun() -> counter(0) end),
        N = max(1, Count div ?TIMED_ROUNDS),
        one_round(Counter, ?WARMUP_MESSAGES, ?WARMUP_MESSAGES),
        Rates = [one_round(Counter, N, ?WARMUP_MESSAGES + I * N)
                 || I <- lists:seq(1, ?TIMED_ROUNDS)],
        Counter ! stop,
        {bench_median(Rates), "msgs/s", "higher"}
    end).

counter(Total) ->
    receive
        increment -> counter(Total + 1);
        {total, From} -> From ! {total, Total}, counter(Total);
        stop -> ok
    end.

%% Sends N increments and checks that the total is then Expected; returns messages per second.
one_round(Counter, N, Expected) ->
    Start = bench_now_ns(),
    send_increments(Counter, N),
    Counter ! {total, self()},
    receive
        {total, Expected} -> N / ((bench_now_ns() - Start) / 1.0e9);
        {total, Other} -> error({wrong_total, Other, Expected})
    end.

send_increments(_Counter, 0) -> ok;
send_increments(Counter, N) -> Counter ! increment, send_increments(Counter, N - 1).
