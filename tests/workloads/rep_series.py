"""Known rep series for the until-decided tests (compare's and bench's): fio bandwidth of
rep 1, 2, ... per variant, so the gate's verdicts on them are known."""
import json

STEADY = [100.0, 103.0, 97.0, 101.0, 99.0, 102.0, 98.0, 100.0, 101.0, 99.0, 100.0, 100.0]
NOISY = [100.0, 130.0, 75.0, 120.0, 85.0, 110.0, 90.0, 125.0, 80.0, 100.0]


def write_bw_only_thresholds(path: str) -> str:
    """Thresholds gating fio bandwidth alone (the synthetic trace metrics are random)."""
    with open(path, "w") as f:
        json.dump({"schema": "wbtrace.thresholds/1", "min_reps": 3,
                   "metrics": {"fio.bw_MiBps": {"max_regression_pct": 5, "required": True}}}, f)
    return path
