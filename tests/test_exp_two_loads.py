"""An exposure log that arrives in two files (two loads): a unit of the second load that
the first one already assigned is counted like a repeat within one file, so two loads give
exactly what one load of the whole log gives (issue 13, point 7; the hand-worked log and
its expected numbers are in tests/test_exp_assignments.py).

Split after row 7: load 1 = a1 a2 a3(03-04) b1 b2 m1(control) b3, no repeats; load 2 =
m1(treatment) m2 m2 a3(03-02) b2 m3 m3. In load 2, m2 and m3 repeat within the file (2 rows
set aside) and m1, a3, b2 were assigned by load 1 (3 rows set aside, m1 in another arm).
All exposures: 9 stored + 5 set aside = the 14 rows of the log.
"""

from __future__ import annotations

import pandas as pd
import pytest

from shopscope.experiments.analysis import analyze
from shopscope.experiments.registry import ExperimentStore, parse_definition
from tests.test_exp_assignments import DEFINITION, LOG, _check_against_hand, _write_sources

SECOND = """version = 1
name = "abtest-2"

[[source]]
file = "log2.csv"
table = "experiments"
[source.columns]
unit_id = "user_id"
variant = "group"
assigned_at = "timestamp"
[source.constants]
experiment_id = "landing"
"""


@pytest.fixture(scope="module")
def two_loads(tmp_path_factory):
    from shopscope.errors import ValidationFailed
    from shopscope.ingest.mapping import ingest_mapping
    from shopscope.store import Workspace

    root = tmp_path_factory.mktemp("two-loads")
    first = _write_sources(root)  # writes log.csv with the whole log: overwrite with part 1
    columns = ["user_id", "timestamp", "group"]
    pd.DataFrame(LOG[:7], columns=columns).to_csv(root / "log.csv", index=False)
    pd.DataFrame(LOG[7:], columns=columns).to_csv(root / "log2.csv", index=False)
    (root / "second.toml").write_text(SECOND, encoding="utf-8")
    ws = Workspace.create(root / "ws")
    ingest_mapping(ws, first)
    with pytest.raises(ValidationFailed) as refused:  # the default policy: nothing loads
        ingest_mapping(ws, root / "second.toml")
    second = ingest_mapping(ws, root / "second.toml", policy="quarantine")
    ExperimentStore(ws.path).save(parse_definition(DEFINITION))
    yield ws, refused.value, second
    ws.close()


def test_the_second_load_names_units_assigned_before(two_loads):
    ws, refused, second = two_loads
    lines = refused.report.summary_lines()
    assert any("3 row(s): unit already assigned by an earlier load" in line
               for line in lines), lines
    notes = second[0].report.notes
    assert any("landing: 3 unit(s) in 3 row(s), 1 of them in another arm" in n
               for n in notes), notes
    assert second[0].rows_added["experiments"] == 2  # m2 and m3
    assert second[0].rows_rejected["experiments"] == 5
    assert ws.store.row_count("experiments") == 9


@pytest.mark.parametrize("policy", ["exclude", "first"])
def test_two_loads_analyse_like_one(two_loads, policy):
    ws, _, _ = two_loads
    result = analyze(ws.store, parse_definition({**DEFINITION, "multi_arm": policy}))
    _check_against_hand(result, policy)
    rep = result.assignment
    assert (rep["rows"], rep["units"]) == (14, 9)
    assert (rep["multi_arm_units"], rep["repeated_rows"], rep["set_aside_at_ingest"]) == (3, 5, 5)
    assert any(w.startswith("3 units were logged in more than one arm") for w in result.warnings)
    assert any("5 repeated exposure rows dropped (of 14 logged, 5 of them set aside at ingest"
               in w for w in result.warnings), result.warnings
