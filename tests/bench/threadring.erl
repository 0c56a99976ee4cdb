%% threadring, impl `erlang`: Savina ThreadRing of 100 Erlang processes in one VM (OTP defaults).
%%   escript threadring.erl COUNT
%% A token passes COUNT hops; each hop sends {token, HopsLeft} to the next member with one hop
%% fewer left. The member that gets it with none left sends `stop` round the ring, and each member
%% ends as the stop passes. Prints the median microseconds a hop of the laps: the head (member 0,
%% this process) times each lap of 100 hops.
-module(threadring).
-export([main/1]).
-mode(compile).
-include("bench_report.hrl").

-define(RING_SIZE, 100).

main(Args) ->
    bench_main(Args, fun(Hops) ->
        Next = lists:foldl(fun(_, Next) -> spawn_link(fun() -> member(Next, false) end) end,
                           self(), lists:seq(1, ?RING_SIZE - 1)),
        Next ! {token, Hops - 1},
        case head(Next, false, bench_now_ns(), []) of
            [] -> error(the_token_never_came_round);
            Laps -> {bench_median(Laps) / 1000 / ?RING_SIZE, "us", "lower"}
        end
    end).

%% A member passes the token on until the stop has passed; Stopping: it sent the stop itself.
member(Next, Stopping) ->
    receive
        {token, 0} -> Next ! stop, member(Next, true);
        {token, Left} -> Next ! {token, Left - 1}, member(Next, Stopping);
        stop when Stopping -> ok;
        stop -> Next ! stop, ok
    end.

%% The head: a member that also times each lap; returns the laps in nanoseconds.
head(Next, Stopping, LastLap, Laps) ->
    receive
        {token, Left} ->
            Now = bench_now_ns(),
            if
                Left == 0 -> Next ! stop;
                true -> Next ! {token, Left - 1}
            end,
            head(Next, Stopping orelse Left == 0, Now, [Now - LastLap | Laps]);
        stop ->
            Stopping orelse (Next ! stop),
            Laps
    end.
