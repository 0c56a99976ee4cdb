%% restart_p50 and restart_p99, impl `erlang`: crash to replacement, in one VM (OTP defaults). An
%% OTP supervisor (one_for_one, permanent child, intensity {1000000, 1 s}, never reached) runs one
%% gen_server, registered locally. Each round kills the child (exit(Pid, kill)), then waits until
%% the name points at a new pid (a whereis/1 loop that yields between looks: the cheapest way to
%% see the replacement, no message to the supervisor, and the yield lets the supervisor run on this
%% scheduler) and the new child answers a gen_server:call. A round is the time from the kill to that
%% answer; COUNT rounds after warm-up ones. (Messages sent to the old pid are lost in Erlang, hence
%% the wait for the new pid where bench_restart sends to the child's stable ref at once.)
%%   escript restart.erl COUNT
%% Prints two JSON lines, {"bench": "restart_p50", ...} and {"bench": "restart_p99", ...}: the
%% median and the 99th percentile (nearest rank) of the rounds, in microseconds.
%% The supervisor's error reports (one per kill, as bench_restart's crash reports) go to stderr,
%% so that stdout carries only the JSON lines.
-module(restart).
-export([main/1, init/1, handle_call/3, handle_cast/2]).
-mode(compile).
-include("bench_report.hrl").
-compile({nowarn_unused_function, [{bench_main, 2}]}). % two figures: bench_main2/2 below

-define(WARMUP_ROUNDS, 20).
-define(CHILD, bench_restart_child).

main(Args) ->
    ok = logger:remove_handler(default),
    ok = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),
    bench_main2(Args, fun(Count) ->
        {ok, Sup} = supervisor:start_link({local, bench_restart_sup}, ?MODULE, sup),
        [one_round() || _ <- lists:seq(1, ?WARMUP_ROUNDS)],
        Samples = lists:sort([one_round() || _ <- lists:seq(1, Count)]),
        unlink(Sup),
        Ref = monitor(process, Sup),
        exit(Sup, shutdown),
        receive {'DOWN', Ref, process, Sup, _} -> ok end,
        P50 = bench_median(Samples) / 1000,
        P99 = lists:nth(max(1, ceil(0.99 * Count)), Samples) / 1000,
        io:format(standard_error, "restart: erlang p50 ~.1f us, p99 ~.1f us, p99/p50 ~.2f~n",
                  [P50, P99, P99 / P50]),
        [{"restart_p50", P50}, {"restart_p99", P99}]
    end).

%% bench_main/2 for a peer that prints one figure per bench: Measure returns [{Bench, Value}].
bench_main2(Args, Measure) ->
    Count = case Args of
                [Arg] -> try list_to_integer(Arg) catch error:badarg -> 0 end;
                _ -> 0
            end,
    Count > 0 orelse bench_halt(2, "usage: ~s COUNT~n", [escript:script_name()]),
    try Measure(Count) of
        Figures ->
            [io:format("{\"bench\": \"~s\", \"value\": ~.2f, \"unit\": \"us\", \"better\": \"lower\"}~n",
                       [Bench, float(Value)]) || {Bench, Value} <- Figures]
    catch
        Class:Reason ->
            bench_halt(1, "~s: ~p:~p~n", [filename:basename(escript:script_name()), Class, Reason])
    end.

%% One round, in nanoseconds.
one_round() ->
    Old = whereis(?CHILD),
    is_pid(Old) orelse error(no_child),
    Start = bench_now_ns(),
    exit(Old, kill),
    New = replacement(Old),
    pong = gen_server:call(New, ping),
    bench_now_ns() - Start.

%% The child's pid once it is not Old (nor unregistered).
replacement(Old) ->
    case whereis(?CHILD) of
        Old -> erlang:yield(), replacement(Old);
        undefined -> erlang:yield(), replacement(Old);
        New -> New
    end.

%% The supervisor and the child, in this module.
init(sup) ->
    Flags = #{strategy => one_for_one, intensity => 1000000, period => 1},
    Child = #{id => child, start => {gen_server, start_link, [{local, ?CHILD}, ?MODULE, child, []]},
              restart => permanent, shutdown => brutal_kill, type => worker},
    {ok, {Flags, [Child]}};
init(child) ->
    {ok, no_state}.

handle_call(ping, _From, State) -> {reply, pong, State}.

handle_cast(_, State) -> {noreply, State}.
