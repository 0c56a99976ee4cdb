%% Command line, median and JSON report shared by the Erlang peers (escripts in this folder); the
%% counterpart of bench_report.h. Each peer defines main/1 as
%%     main(Args) -> bench_main(Args, fun(Count) -> ... {Value, Unit, Better} end).

%% Runs Measure(Count) for the command line [COUNT] and prints its figure as one JSON line; halts
%% with 2 after printing the usage for a bad command line, with 1 if Measure fails.
bench_main(Args, Measure) ->
    Count = case Args of
                [Arg] -> try list_to_integer(Arg) catch error:badarg -> 0 end;
                _ -> 0
            end,
    Count > 0 orelse bench_halt(2, "usage: ~s COUNT~n", [escript:script_name()]),
    try Measure(Count) of
        {Value, Unit, Better} ->
            io:format("{\"value\": ~.2f, \"unit\": \"~s\", \"better\": \"~s\"}~n",
                      [float(Value), Unit, Better])
    catch
        Class:Reason ->
            bench_halt(1, "~s: ~p:~p~n", [filename:basename(escript:script_name()), Class, Reason])
    end.

bench_halt(Status, Format, Args) ->
    io:format(standard_error, Format, Args),
    halt(Status).

%% The median of a non-empty list of numbers.
bench_median(Samples) ->
    Sorted = lists:sort(Samples),
    N = length(Sorted),
    case N rem 2 of
        1 -> lists:nth(N div 2 + 1, Sorted);
        0 -> (lists:nth(N div 2, Sorted) + lists:nth(N div 2 + 1, Sorted)) / 2
    end.

%% Monotonic time in nanoseconds.
bench_now_ns() -> erlang:monotonic_time(nanosecond).
