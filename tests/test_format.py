"""How one iteration reads, in the CLI's progress lines and the live panel's log alike (engine/format.py)."""

from __future__ import annotations

from llamaburn.engine.format import iteration_value, metric_line
from llamaburn.plugin import Metric

TPS = Metric(name="tps", label="TPS", unit="tok/s", direction="higher")
VALID = Metric(
    name="syntax_valid", label="Syntax validity", unit="%", direction="higher", outcomes=("valid", "invalid")
)


def test_a_pass_fail_metric_reads_as_its_declared_outcome_word() -> None:
    assert iteration_value(100, VALID) == "valid"
    assert iteration_value(0, VALID) == "invalid"
    assert iteration_value(75.0, VALID) == "75.0 %"  # a mean over iterations is a rate, not an outcome
    assert iteration_value(None, VALID) == "-"


def test_an_iteration_line_names_each_headline_metric_with_its_value() -> None:
    assert metric_line({"tps": 45.25, "syntax_valid": 0}, [TPS, VALID]) == "TPS 45.2 tok/s | Syntax validity invalid"
    assert metric_line({"tps": 12}, [TPS, VALID]) == "TPS 12 tok/s"  # what the server did not report is left out
