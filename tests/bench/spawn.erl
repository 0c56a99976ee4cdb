%% spawn, impl `erlang`: start a process, get its first reply, stop it and see it end, in one VM
%% (OTP defaults): spawn_monitor, {ping, From} -> {pong, Pid}, then `stop` and the 'DOWN' message.
%%   escript spawn.erl COUNT
%% Prints the median microseconds of COUNT rounds (after warm-up rounds) as a JSON line.
-module(spawn).
-export([main/1]).
-mode(compile).
-include("bench_report.hrl").

-define(WARMUP_ROUNDS, 100).

main(Args) ->
    bench_main(Args, fun(Count) ->
        [one_round() || _ <- lists:seq(1, ?WARMUP_ROUNDS)],
        Samples = [one_round() || _ <- lists:seq(1, Count)],
        {bench_median(Samples) / 1000, "us", "lower"}
    end).

worker() ->
    receive
        {ping, From} ->
            From ! {pong, self()},
            receive stop -> ok end
    end.

%% One round, in nanoseconds.
one_round() ->
    Start = bench_now_ns(),
    {Pid, Ref} = spawn_monitor(fun worker/0),
    Pid ! {ping, self()},
    receive {pong, Pid} -> ok end,
    Pid ! stop,
    receive
        {'DOWN', Ref, process, Pid, normal} -> bench_now_ns() - Start;
        {'DOWN', Ref, process, Pid, Reason} -> error({worker_failed, Reason})
    end.
