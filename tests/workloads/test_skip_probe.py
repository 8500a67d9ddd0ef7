"""--skip-probe: names checked against the tracer's table (loader/probes.def) before a
guest boots, and handed to the tracer in the guest; compare leaves out the probe whose
cost would fall on one variant only."""
import pytest

import wbrun
from runner import errors, guest, probes


def test_the_table_is_the_tracers():
    table = probes.tracer_probes()
    assert table["folio"] is True and table["writepages"] is True
    assert table["handout"] is False
    assert guest.COMPARE_SKIP_PROBES in table and not table[guest.COMPARE_SKIP_PROBES]


@pytest.mark.parametrize("value, msg", [("nope", "no probe 'nope'"),
                                        ("handout,folio", "'folio' is required"),
                                        ("", "no probe ''")])
def test_bad_names_are_refused(value, msg):
    with pytest.raises(errors.UsageError, match=msg):
        probes.check_skip_probes(value)


def test_optional_names_pass():
    assert probes.check_skip_probes("handout,loop_end") == "handout,loop_end"


def _rep_options(*argv):
    return guest.rep_options(wbrun.build_parser().parse_args(list(argv)))


def test_compare_skips_the_one_sided_probe_unless_untraced():
    assert _rep_options("compare", "fio-randwrite")[-2:] == ["--skip-probe", "handout"]
    assert "--skip-probe" not in _rep_options("compare", "fio-randwrite", "--no-trace")


def test_the_guest_side_takes_what_the_host_side_hands_on():
    """The host's compare re-runs compare (and run) in the guest with rep_options()."""
    for argv in (["compare", "fio-randwrite"], ["compare", "fio-randwrite", "--skip-probe", ""],
                 ["run", "fio-randwrite", "--skip-probe", "wb_work"]):
        inner = wbrun.build_parser().parse_args(argv[:2] + _rep_options(*argv))
        assert inner.skip_probe == wbrun.build_parser().parse_args(argv).skip_probe


def test_compare_can_keep_every_probe():
    assert _rep_options("compare", "fio-randwrite", "--skip-probe", "")[-2:] == ["--skip-probe", ""]


def test_run_keeps_every_probe_unless_asked():
    assert "--skip-probe" not in _rep_options("run", "fio-randwrite")
    assert _rep_options("run", "fio-randwrite", "--skip-probe", "wb_work")[-2:] == \
        ["--skip-probe", "wb_work"]
