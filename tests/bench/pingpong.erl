%% pingpong, impl `erlang`: Savina PingPong between two Erlang processes in one VM (OTP defaults).
%%   escript pingpong.erl COUNT
%% Ping sends {ping, N} to pong, which answers {pong, N}; COUNT round trips after warm-up rounds.
%% Prints the median microseconds between two pongs arriving at ping (one round trip each).
-module(pingpong).
-export([main/1]).
-mode(compile).
-include("bench_report.hrl").

-define(WARMUP_ROUNDS, 1000).

main(Args) ->
    bench_main(Args, fun(Count) ->
        Pong = spawn_link(fun pong/0),
        Samples = ping(Pong, -?WARMUP_ROUNDS, Count, bench_now_ns(), []),
        Pong ! stop,
        {bench_median(Samples) / 1000, "us", "lower"}
    end).

pong() ->
    receive
        {ping, From, N} -> From ! {pong, N}, pong();
        stop -> ok
    end.

%% Plays rounds N..Count-1; returns the nanoseconds of the rounds from 0 on.
ping(_Pong, Count, Count, _LastPong, Samples) ->
    Samples;
ping(Pong, N, Count, LastPong, Samples) ->
    Pong ! {ping, self(), N},
    receive
        {pong, N} ->
            Now = bench_now_ns(),
            Kept = if N >= 0 -> [Now - LastPong | Samples]; true -> Samples end,
            ping(Pong, N + 1, Count, Now, Kept)
    end.
