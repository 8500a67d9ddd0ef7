"""tests/guest/trace_xcheck.py: function_graph parsing and pass matching."""

import trace_xcheck as x

GRAPH = """\
# tracer: function_graph
#
#     TIME        CPU  TASK/PID         DURATION                  FUNCTION CALLS
#      |          |     |    |           |   |                     |   |   |   |
  100.000100 |   1)    dd-345     | ! 234.567 us  |  f2fs_write_data_pages [f2fs]();
  100.001000 |   0)  kworker-12   |   5.250 us    |  f2fs_write_data_pages [f2fs]();
  100.002000 |   1)    dd-345     | # 1234.000 us |  f2fs_write_data_pages [f2fs]();
  100.003000 |   1)    dd-345     |   3.000 us    |  f2fs_other_function [f2fs]();
  100.004000 |   1)    dd-345     | + 12.000 us   |  f2fs_write_data_pages();
  100.005000 |   0)    dd-346     |               |  f2fs_write_data_pages [f2fs]() {
 ------------------------------------------
 0)    dd-346     =>   kworker-12
 ------------------------------------------
  100.007500 |   0)    dd-346     | # 2500.000 us |  } /* f2fs_write_data_pages [f2fs] */
"""


def test_parse_graph_reads_leaf_calls_of_the_function_only():
    calls = x.parse_graph(GRAPH)
    assert calls == [(345, 100000100000, 234567), (12, 100001000000, 5250),
                     (345, 100002000000, 1234000), (345, 100004000000, 12000),
                     (346, 100005000000, 2500000)]   # entry/return lines: start = end - dur


def test_a_pass_matches_the_call_of_its_thread_that_contains_it():
    calls = x.parse_graph(GRAPH)
    passes = [(345, 100002000400, 1233000),     # inside the 1234 us call
              (12, 100001000050, 5100),         # inside the kworker's call
              (345, 100002000400, 1300000),     # ends after the call ends: not inside
              (99, 100001000000, 5000)]         # a thread ftrace never saw
    pairs = x.match(passes, calls)
    assert pairs[0][1] == (345, 100002000000, 1234000)
    assert pairs[1][1] == (12, 100001000000, 5250)
    assert pairs[2][1] is None and pairs[3][1] is None


def test_a_call_holds_one_pass_and_the_print_rounding_is_allowed():
    calls = [(1, 1_000_000, 100_000)]
    # starts 0.5 us before the printed (microsecond-truncated) start: still inside
    pairs = x.match([(1, 999_500, 50_000), (1, 1_010_000, 10_000)], calls)
    assert pairs[0][1] == calls[0] and pairs[1][1] is None


def test_uncovered_lists_calls_in_the_window_without_a_pass():
    calls = [(1, 0, 10), (1, 100, 50), (1, 300, 50), (1, 1000, 5)]
    passes = [(1, 101, 40), (1, 400, 100)]         # window 101 .. 500
    assert x.uncovered(passes, calls) == [(1, 300, 50)]
    assert x.uncovered([], calls) == []


def test_nearest_names_the_closest_call_of_the_thread_or_of_anyone():
    calls = [(7, 1_000_000, 500_000), (7, 5_000_000, 100_000), (8, 2_050_000, 10_000)]
    # a pass of thread 7 at 2 ms: its closest call of thread 7 is the first one
    assert x.nearest((7, 2_000_000, 1_000), calls) == \
        {"pid": 7, "d_start_us": -1000.0, "d_end_us": -501.0}
    # thread 9 has no call: the closest of anyone's
    assert x.nearest((9, 2_000_000, 1_000), calls)["pid"] == 8
    assert x.nearest((7, 0, 1), []) is None


def test_a_pass_nested_in_another_of_its_thread_is_set_aside():
    """function_graph at depth 1 shows the outer call only: the nested pass has no call
    of its own, the outer one keeps its call."""
    us = 1000
    outer, inner, other = (5, 1000 * us, 900 * us), (5, 1200 * us, 100 * us), (6, 1200 * us, 100 * us)
    same = (7, 50 * us, 10 * us)
    kept, nested = x.outermost([inner, outer, other, same, same])
    assert nested == [inner] and kept == [outer, other, same, same]
    pairs = x.match(kept, [(5, 999 * us, 1000 * us), (6, 1199 * us, 200 * us), (7, 49 * us, 12 * us),
                           (7, 70 * us, 5 * us)])
    assert [c is not None for _, c in pairs] == [True, True, True, False]
