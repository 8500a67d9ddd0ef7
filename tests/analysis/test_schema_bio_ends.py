"""summary.json "bio_ends" (SCHEMA.md section 3): the end causes come from the
one table in bpf/wbtrace.h, every one is documented, and the validator takes
what the loader writes and refuses what is inconsistent."""
import copy
import os

import pytest

from analysis import schema
from analysis.schema import ResultsError, WbtraceError

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dist(values):
    """A {DIST} of page counts, as the loader writes it (log2 histogram)."""
    hist = [0] * (max((v.bit_length() for v in values), default=0))
    for v in values:
        hist[max(v.bit_length() - 1, 0)] += 1
    n = len(values)
    d = {"unit": "pages", "count": n, "sum": sum(values), "pct_method": "hist_log2_upper",
         "hist_log2": hist}
    for k in ("mean", "p50", "p90", "p99", "p999"):
        d[k] = (sum(values) / n) if n else None
    return d


def bio_ends():
    sizes = {"full": [256, 256], "noncontig": [512], "integrity": [3, 1536, 1], "other": [1]}
    by_end = {c: {"bios": len(sizes.get(c, [])), "inferred": 0, "pages": dist(sizes.get(c, []))}
              for c in schema.BIO_END_CAUSES + ("unknown",)}
    by_end["integrity"]["inferred"] = 1
    return {"complete": True, "stream_bios": 7, "stream_pages": 2565,
            "pages": {"new": 7, "merged": 2558, "unknown": 0, "data_new": 4,
                      "data_merged": 2554},
            "by_end": by_end}


def summary(b):
    return {"schema": schema.TRACE_SCHEMA, "probes": {"page_write": "fentry"}, "drops": 0,
            "events": 1, "metrics": {}, "bio_ends": b}


def test_causes_from_the_header():
    causes = schema.bio_end_causes()
    assert tuple(causes) == schema.BIO_END_CAUSES == (
        "full", "noncontig", "other_type", "cluster_end", "integrity", "priority_stop",
        "pass_end", "other")
    assert all(len(v) > 20 for v in causes.values())      # each says what it means


def test_causes_documented():
    with open(os.path.join(TOP, "analysis", "SCHEMA.md")) as f:
        doc = f.read()
    for c in schema.BIO_END_CAUSES:
        assert f"| `{c}` |" in doc, f"cause {c} not in SCHEMA.md's table"


def test_header_without_table(tmp_path):
    p = tmp_path / "wbtrace.h"
    p.write_text("#define WB_OTHER(X) X(A, \"a\", \"b\")\n\n")
    with pytest.raises(WbtraceError, match="no WB_BIO_ENDS table"):
        schema.bio_end_causes(str(p))


def test_valid():
    schema.validate_summary(summary(bio_ends()))
    # a probe that cannot see them: absent (null), never 0
    b = bio_ends()
    b.update(complete=False, pages=None, by_end=None)
    schema.validate_summary(summary(b))
    b = bio_ends()
    b.update(complete=False, by_end=None)
    schema.validate_summary(summary(b))


def _drop_cause(b):
    del b["by_end"]["full"]


def _foreign_cause(b):
    b["by_end"]["temperature"] = b["by_end"].pop("other_type")


def _too_many_inferred(b):
    b["by_end"]["integrity"]["inferred"] = 4


def _count_mismatch(b):
    b["by_end"]["full"]["bios"] = 3


def _sum_mismatch(b):
    b["stream_bios"] = 8


def _complete_with_null(b):
    b["pages"] = None


def _incomplete_with_all(b):
    b["complete"] = False


def _negative_pages(b):
    b["pages"]["merged"] = -1


def _bad_dist(b):
    b["by_end"]["noncontig"]["pages"]["hist_log2"] = [2]


@pytest.mark.parametrize("mutate,msg", [
    (_drop_cause, "by_end: needs exactly full, noncontig"),
    (_foreign_cause, "by_end: needs exactly"),
    (_too_many_inferred, "by_end.integrity: needs bios and inferred <= bios"),
    (_count_mismatch, "by_end.full: pages.count 2 but bios 3"),
    (_sum_mismatch, "sums to 7 bios, stream_bios is 8"),
    (_complete_with_null, "complete must be true exactly when"),
    (_incomplete_with_all, "complete must be true exactly when"),
    (_negative_pages, "pages: needs new, merged"),
    (_bad_dist, "sum\\(hist_log2\\) = 2 but count = 1"),
])
def test_invalid(mutate, msg):
    b = copy.deepcopy(bio_ends())
    mutate(b)
    with pytest.raises(ResultsError, match=msg):
        schema.validate_summary(summary(b))
