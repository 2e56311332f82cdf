"""Attribution models: hand-worked toys for every model, and PathData against
ChannelAttribution 2.2.5 (tests/data/attribution/pathdata_reference.csv, written by
make_reference.py there; the GPL-3 package is never imported here)."""

from __future__ import annotations

import io
import itertools
import json
from fractions import Fraction
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopscope.errors import InputError, OptionError
from shopscope.marketing import attribution as at
from shopscope.marketing import service as svc
from tests.conftest import shared_file

REFERENCE = Path(__file__).parent / "data" / "attribution" / "pathdata_reference.csv"


def close(frame: pd.DataFrame, column: str, expected: dict, tol: float = 1e-12) -> None:
    got = frame[column].to_dict()
    want = {c: float(expected.get(c, 0)) for c in got}
    assert got == pytest.approx(want, abs=tol), column


# -- rule models on a toy ------------------------------------------------------------------
@pytest.fixture
def toy() -> at.Journeys:
    """p1 A > B > C: 2 conversions, value 20; p2 B > direct: 1, value 6; p3 direct: 1,
    value 4; p4 A > A: no conversion, 3 nulls (credits nothing). Totals 4 and 30.
    Touch times (days to the end): p1 2, 1, 0; p2 3, 0; p3 0; p4 1, 0."""
    return at.Journeys.from_paths(
        [["A", "B", "C"], ["B", "direct"], ["direct"], ["A", "A"]],
        [2, 1, 1, 0], [20, 6, 4, 0], [0, 0, 0, 3],
        days=[[2, 1, 0], [3, 0], [0], [1, 0]])


def test_first_and_last_touch_toy(toy):
    """First: A takes p1 (2, 20), B p2 (1, 6), direct p3 (1, 4). Last: C takes p1, direct
    p2 and p3 (2, 10)."""
    f = at.first_touch(toy)
    close(f, "conversions", {"A": 2, "B": 1, "direct": 1})
    close(f, "value", {"A": 20, "B": 6, "direct": 4})
    last = at.last_touch(toy)
    close(last, "conversions", {"C": 2, "direct": 2})
    close(last, "value", {"C": 20, "direct": 10})


def test_last_non_direct_toy(toy):
    """p2's last non-direct touch is B; p3 has only direct, so direct keeps it."""
    f = at.last_non_direct(toy, "direct")
    close(f, "conversions", {"C": 2, "B": 1, "direct": 1})
    close(f, "value", {"C": 20, "B": 6, "direct": 4})


def test_linear_toy(toy):
    """p1: 2/3 each (value 20/3); p2: 1/2 each (value 3); p3: all to direct."""
    f = at.linear(toy)
    close(f, "conversions", {"A": 2 / 3, "B": 2 / 3 + 1 / 2, "C": 2 / 3, "direct": 1.5})
    close(f, "value", {"A": 20 / 3, "B": 20 / 3 + 3, "C": 20 / 3, "direct": 7})


def test_time_decay_in_touches_toy(toy):
    """Half-life 1 touch: p1 weights 1/4, 1/2, 1 (sum 7/4) -> A 1/7, B 2/7, C 4/7 of 2;
    p2 1/2, 1 -> B 1/3, direct 2/3."""
    f = at.time_decay(toy, half_life=1)
    close(f, "conversions", {"A": 2 / 7, "B": 4 / 7 + 1 / 3, "C": 8 / 7, "direct": 5 / 3})
    close(f, "value", {"A": 20 / 7, "B": 40 / 7 + 2, "C": 80 / 7, "direct": 8})


def test_time_decay_in_days_toy(toy):
    """Half-life 1 day: p1 as in touches (days 2, 1, 0); p2 days 3, 0: weights 1/8, 1 ->
    B 1/9, direct 8/9."""
    f = at.time_decay(toy, half_life=1, unit="days")
    close(f, "conversions", {"A": 2 / 7, "B": 4 / 7 + 1 / 9, "C": 8 / 7, "direct": 17 / 9})


def test_position_based_toy(toy):
    """40/20/40: p1 A .4, B .2, C .4 (x2); p2 two touches, .5 each; p3 all. 30/50 first/
    last: p1 A .3, B .2, C .5; p2 B 3/8, direct 5/8."""
    f = at.position_based(toy)
    close(f, "conversions", {"A": 0.8, "B": 0.9, "C": 0.8, "direct": 1.5})
    g = at.position_based(toy, first=0.3, last=0.5)
    close(g, "conversions", {"A": 0.6, "B": 0.4 + 3 / 8, "C": 1.0, "direct": 1 + 5 / 8})


def test_lookback_keeps_last_touches(toy):
    """Lookback 2: p1 becomes B > C, so first touch gives B p1's 2 conversions."""
    f = at.first_touch(toy.lookback(2))
    close(f, "conversions", {"B": 3, "direct": 1})


def test_bad_model_settings(toy):
    with pytest.raises(ValueError, match="position shares"):
        at.position_based(toy, first=0.7, last=0.5)
    with pytest.raises(ValueError, match="half-life"):
        at.time_decay(toy, half_life=0)
    with pytest.raises(ValueError, match="order"):
        at.markov(toy, order=4)


# -- Markov on toys (closed form) ----------------------------------------------------------
def test_markov_order1_toy_value_differs_from_conversions():
    """A (1 conv, value 10, 1 null); B (1, value 2, 1 null); A > B (0, 2 nulls).
    start: A 2/3, B 1/3; A: conv 1/4, null 1/4, B 1/2; B: conv 1/4, null 3/4.
    P = 2/3 (1/4 + 1/2 * 1/4) + 1/3 * 1/4 = 1/3. Without A: 1/12 -> RE_A = 3/4; without
    B: 2/3 * 1/4 = 1/6 -> RE_B = 1/2. Conversions 2: A 6/5, B 4/5.
    Value per conversion 10 ending in A, 2 in B: E = 2/3 (10/4 + 1/2 * 2/4) + 1/3 * 2/4 = 2;
    without A: 1/6 -> 11/12; without B: 2/3 * 10/4 = 5/3 -> 1/6. Value 12: A 132/13, B 24/13.
    """
    j = at.Journeys.from_paths([["A"], ["B"], ["A", "B"]], [1, 1, 0], [10, 2, 0], [1, 1, 2])
    m = at.markov(j, 1)
    assert m.p_conversion == pytest.approx(1 / 3, abs=1e-12)
    close(m.frame, "removal_effect", {"A": 3 / 4, "B": 1 / 2})
    close(m.frame, "removal_effect_value", {"A": 11 / 12, "B": 1 / 6})
    close(m.frame, "conversions", {"A": 6 / 5, "B": 4 / 5})
    close(m.frame, "value", {"A": 132 / 13, "B": 24 / 13})


def test_markov_loop_is_solved_to_infinite_horizon():
    """A > B > A (1 conv) and A > B (1 null): A -> B 2/3, A -> conv 1/3; B -> A 1/2,
    B -> null 1/2. x_A = 1/3 + 2/3 * x_B, x_B = x_A / 2 -> P = 1/2 (a walk may loop A B A B
    ... any number of times). Without B: 1/3 -> RE_B = 1/3; without A: 0 -> RE_A = 1."""
    j = at.Journeys.from_paths([["A", "B", "A"], ["A", "B"]], [1, 0], [5, 0], [0, 1])
    m = at.markov(j, 1)
    assert m.p_conversion == pytest.approx(0.5, abs=1e-12)
    close(m.frame, "removal_effect", {"A": 1, "B": 1 / 3})
    close(m.frame, "conversions", {"A": 3 / 4, "B": 1 / 4})


@pytest.mark.parametrize(("order", "expected"), [
    # order 1: start C 2/3, A 1/3; C -> A, B 1/2 each; A -> B; B -> conv 1/3. P = 1/3;
    # without C or A: 1/9 -> RE 2/3; without B: 0 -> RE 1. Split 2 by 2/3 : 1 : 2/3.
    (1, {"A": 4 / 7, "B": 6 / 7, "C": 4 / 7}),
    # order 2: states CA, AB, CB from start 1/3 each; CA -> AB; AB -> conv 1/2; CB -> null.
    # P = 1/3; without C (CA, CB): 1/6 -> RE 1/2; without A or B: 0 -> RE 1.
    (2, {"A": 0.8, "B": 0.8, "C": 0.4}),
    # order 3: CAB, AB (path shorter than the order), CB: the same numbers as order 2.
    (3, {"A": 0.8, "B": 0.8, "C": 0.4}),
])
def test_markov_orders_toy(order, expected):
    """C > A > B (1 conv, 1 null), A > B (1, 1), C > B (0, 2)."""
    j = at.Journeys.from_paths([["C", "A", "B"], ["A", "B"], ["C", "B"]], [1, 1, 0],
                               [1, 1, 0], [1, 1, 2])
    m = at.markov(j, order)
    assert m.p_conversion == pytest.approx(1 / 3, abs=1e-12)
    close(m.frame, "conversions", expected)


def test_markov_repeated_channel_is_one_state():
    """A > A > B equals A > B at order 1 (repeats of a state in a row are merged, as in
    ChannelAttribution): start -> A -> B -> conv 1/2, null 1/2."""
    a = at.markov(at.Journeys.from_paths([["A", "A", "B"]], [1], [1], [1]), 1)
    b = at.markov(at.Journeys.from_paths([["A", "B"]], [1], [1], [1]), 1)
    assert a.p_conversion == b.p_conversion == pytest.approx(0.5)
    assert a.frame["conversions"].tolist() == pytest.approx([0.5, 0.5])


# -- Shapley -------------------------------------------------------------------------------
def brute_shapley(paths, conv) -> dict[str, Fraction]:
    """Shapley by its definition: the mean over all orders of the channels of each one's
    marginal contribution to v(S) = conversions of paths with channels all in S."""
    channels = sorted({c for p in paths for c in p})
    sets = [frozenset(p) for p in paths]

    def v(coalition):
        inside = (Fraction(c) for s, c in zip(sets, conv, strict=True) if s <= coalition)
        return sum(inside, Fraction(0))

    phi = dict.fromkeys(channels, Fraction(0))
    for order in itertools.permutations(channels):
        seen: set = set()
        for ch in order:
            phi[ch] += v(frozenset(seen | {ch})) - v(frozenset(seen))
            seen.add(ch)
    return {c: x / factorial(len(channels)) for c, x in phi.items()}


def test_shapley_exact_toy():
    """{A}: 3, {A, B} (path A > B > A): 2, {B, C}: 1, {A, B, C, D}: 4. By hand (the game
    is a sum of unanimity games): A 3 + 1 + 1 = 5, B 1 + 1/2 + 1 = 2.5, C 1/2 + 1 = 1.5,
    D 1; the brute-force definition over all 24 orders agrees."""
    paths = [["A"], ["A", "B", "A"], ["B", "C"], ["D", "C", "B", "A"]]
    conv = [3, 2, 1, 4]
    r = at.shapley(at.Journeys.from_paths(paths, conv, conv))
    assert r.method == "exact"
    close(r.frame, "conversions", {"A": 5, "B": 2.5, "C": 1.5, "D": 1})
    brute = brute_shapley(paths, conv)
    close(r.frame, "value", {c: float(x) for c, x in brute.items()})


def test_shapley_sampled_close_to_exact_on_toy():
    paths = [["A"], ["A", "B"], ["B", "C"], ["D", "C", "B", "A"], ["E", "A"]]
    j = at.Journeys.from_paths(paths, [3, 2, 1, 4, 5], [1, 1, 1, 1, 1])
    exact = at.shapley(j).frame
    sampled = at.shapley(j, exact_limit=0, samples=4000, seed=1)
    assert sampled.method == "sampled" and sampled.samples == 4000
    diff = (sampled.frame["conversions"] - exact["conversions"]).abs()
    assert (diff <= 4 * sampled.frame["conversions_se"] + 1e-9).all()
    assert sampled.frame["conversions"].sum() == pytest.approx(15)


# -- PathData against ChannelAttribution ---------------------------------------------------
@pytest.fixture(scope="module")
def pathdata() -> at.Journeys:
    path = shared_file("attribution", "PathData.csv.gz")
    return svc.read_paths(path)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REFERENCE)


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear"])
def test_heuristics_equal_channelattribution(pathdata, reference, model):
    ours = getattr(at, model)(pathdata)
    ref = reference[reference["model"] == model].set_index("channel")
    assert sorted(ref.index) == list(ours.index)
    for col in ("conversions", "value"):
        np.testing.assert_allclose(ours[col], ref.loc[ours.index, col], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_within_channelattribution_simulation_error(pathdata, reference, order):
    """ChannelAttribution estimates a removal effect as the share of simulated converting
    walks that visited the channel, over about P(conversion) * nsim_per_fold walks (the
    fold it reports): a binomial proportion with SE sqrt(RE (1 - RE) / n). Its value
    version draws each walk's value from the per-conversion values of its last state, so
    its SE grows by sqrt(1 + cv^2), cv the coefficient of variation of value per conversion.
    We allow 5 SE (the step limit cut 0.01% of its walks, far below that)."""
    m = at.markov(pathdata, order)
    ref = reference[reference["model"] == f"markov_{order}"].set_index("channel")
    ref = ref.loc[m.frame.index]
    n = m.p_conversion * ref["nsim_per_fold"].iloc[0]
    assert ref["complete_share"].iloc[0] >= 0.999
    for col, inflate in (("removal_effect", 1.0), ("removal_effect_value", None)):
        re = m.frame[col]
        if inflate is None:
            per_conv = pathdata.value / np.where(pathdata.conversions > 0,
                                                 pathdata.conversions, 1)
            w = pathdata.conversions
            mean = np.average(per_conv, weights=w)
            cv2 = np.average((per_conv - mean) ** 2, weights=w) / mean**2
            inflate = np.sqrt(1 + cv2)
        se = inflate * np.sqrt(re * (1 - re) / n)
        gap = (re - ref[col]).abs()
        assert (gap <= 5 * se + 1e-6).all(), pd.DataFrame({"gap": gap, "5se": 5 * se})


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_conversion_probability_is_the_observed_rate(pathdata, order):
    """The chain estimated from the paths conserves flow (expected visits of a state =
    journeys through it over all journeys), so P(conversion) from the start equals the
    observed conversions / (conversions + nulls) at every order: an identity the linear
    solve must reproduce."""
    observed = pathdata.conversions.sum() / (pathdata.conversions + pathdata.nulls).sum()
    assert at.markov(pathdata, order).p_conversion == pytest.approx(observed, rel=1e-9)


def test_shapley_exact_equals_even_split_over_distinct_channels(pathdata):
    """With v(S) = conversions of paths inside S the game is a sum of unanimity games, so
    each path's conversions split evenly over its distinct channels: an independent check
    of the subset enumeration on 12 channels (4,096 coalitions)."""
    data = pd.read_csv(shared_file("attribution", "PathData.csv.gz"))
    sets = data["path"].str.split(">").map(lambda p: sorted({c.strip() for c in p}))
    rows = pd.DataFrame({"channel": sets, "conv": data["total_conversions"] / sets.map(len)})
    expected = rows.explode("channel").groupby("channel")["conv"].sum()
    r = at.shapley(pathdata)
    assert r.method == "exact"
    np.testing.assert_allclose(r.frame["conversions"], expected.loc[r.frame.index], rtol=1e-9)


def test_shapley_sampled_close_to_exact_on_pathdata(pathdata):
    exact = at.shapley(pathdata).frame
    sampled = at.shapley(pathdata, exact_limit=0, samples=1000, seed=7).frame
    gap = (sampled["conversions"] - exact["conversions"]).abs()
    assert (gap <= 4 * sampled["conversions_se"] + 1e-9).all()


def test_every_model_sums_to_the_totals(pathdata):
    totals = pathdata.conversions.sum(), pathdata.value.sum()
    parts = [at.compare(pathdata, order=o) for o in (1, 2, 3)]
    long = pd.concat(parts).drop_duplicates(["channel", "model"])
    assert set(long["model"]) == {*at.RULES, "markov_1", "markov_2", "markov_3", "shapley"}
    sums = long.groupby("model")[["conversions", "value"]].sum()
    np.testing.assert_allclose(sums["conversions"], totals[0], rtol=1e-9)
    np.testing.assert_allclose(sums["value"], totals[1], rtol=1e-9)


# -- reading files and the command ---------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paths.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_paths_names_file_row_and_column(tmp_path):
    head = "path,total_conversions,total_conversion_value,total_null\n"
    bad = write(tmp_path, head + "a > b,1,2,3\na > b,x,2,3\n")
    with pytest.raises(InputError, match=r"paths.csv: column 'total_conversions', row 3"):
        svc.read_paths(bad)
    empty = write(tmp_path, head + "a > b,1,2,3\na >  > c,1,2,3\n")
    with pytest.raises(InputError, match=r"column 'path', row 3: empty"):
        svc.read_paths(empty)
    negative = write(tmp_path, head + "a,1,-2,3\n")
    with pytest.raises(InputError, match=r"'total_conversion_value', row 2"):
        svc.read_paths(negative)
    missing = write(tmp_path, "p,c\na,1\n")
    with pytest.raises(InputError, match=r"no column 'path'.*'p', 'c'"):
        svc.read_paths(missing)
    with pytest.raises(InputError, match="no such file"):
        svc.read_paths(tmp_path / "nope.csv")


def test_read_paths_maps_columns_and_separator(tmp_path):
    path = write(tmp_path, "journey;conv\nseo|ads;2\nads;1\n".replace(";", ","))
    cols = svc.PathColumns(path="journey", conversions="conv", value="", nulls="", sep="|")
    j = svc.read_paths(path, cols)
    assert j.channels == ("ads", "seo")
    close(at.first_touch(j), "conversions", {"seo": 2, "ads": 1})


def test_touch_times_from_a_file_decay_in_days(tmp_path):
    """The toy with touch times (days): time decay switches to days by itself, with the
    numbers of test_time_decay_in_days_toy."""
    path = write(tmp_path, "path,total_conversions,total_conversion_value,total_null,days\n"
                 "A > B > C,2,20,0,2 > 1 > 0\nB > direct,1,6,0,3 > 0\ndirect,1,4,0,0\n"
                 "A > A,0,0,3,1 > 0\n")
    cols = svc.PathColumns(days="days")
    out = svc.attribute(svc.read_paths(path, cols),
                        svc.AttributionParams(models=("time_decay",), half_life=1))
    got = out.conversions["time_decay"].to_dict()
    assert got == pytest.approx({"A": 2 / 7, "B": 4 / 7 + 1 / 9, "C": 8 / 7, "direct": 17 / 9})
    assert "time_decay: half-life 1 days" in out.notes
    short = write(tmp_path, "path,total_conversions,total_conversion_value,total_null,days\n"
                  "A > B,1,1,0,2\n")
    with pytest.raises(InputError, match=r"column 'days', row 2: not one time per touch"):
        svc.read_paths(short, cols)


def test_params_refuse_bad_options():
    with pytest.raises(OptionError, match="order"):
        svc.make(svc.AttributionParams, order=4)
    with pytest.raises(OptionError, match="first \\+ last"):
        svc.make(svc.AttributionParams, first=0.8, last=0.4)
    with pytest.raises(OptionError, match="models"):
        svc.make(svc.AttributionParams, models=("nope",))


def cli(*args: str):
    """The command in-process; errors arrive as the exception that ``main`` would print."""
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "marketing" for g in app.registered_groups):
        _register_subcommands()
    return CliRunner().invoke(app, list(args))


def test_command_csv_and_errors(tmp_path):
    path = write(tmp_path, "path,total_conversions,total_conversion_value,total_null\n"
                 "A > B > C,2,20,0\nB > direct,1,6,0\ndirect,1,4,0\nA > A,0,0,3\n")
    result = cli("marketing", "attribution", str(path), "--models", "first_touch,linear",
                 "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    lin = frame[frame["model"] == "linear"].set_index("channel")["conversions"]
    assert lin.to_dict() == pytest.approx({"A": 2 / 3, "B": 7 / 6, "C": 2 / 3, "direct": 1.5},
                                          abs=1e-6)
    result = cli("marketing", "attribution", str(path), "--format", "json", "--order", "2")
    assert result.exit_code == 0, result.output
    rows = pd.DataFrame(json.loads(result.stdout))
    assert set(rows["model"]) == {*at.RULES, "markov_2", "shapley"}
    assert rows.groupby("model")["conversions"].sum().tolist() == pytest.approx([4] * 8)
    result = cli("marketing", "attribution", str(path))
    assert result.exit_code == 0, result.output
    assert "conversions by model (4 paths, 4 channels" in result.stdout
    bad = cli("marketing", "attribution", str(path), "--order", "4").exception
    assert isinstance(bad, OptionError) and bad.exit_code == 2 and "order" in bad.message
    bad = cli("marketing", "attribution", str(tmp_path / "none.csv")).exception
    assert isinstance(bad, InputError) and "none.csv: no such file" in bad.message


# -- the API -------------------------------------------------------------------------------
TOY_CSV = ("path,total_conversions,total_conversion_value,total_null\n"
           "A > B > C,2,20,0\nB > direct,1,6,0\ndirect,1,4,0\nA > A,0,0,3\n")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from shopscope.app import create_app
    from shopscope.auth import UserStore
    from shopscope.store import Workspace
    from tests.test_web import PASSWORD, client_for

    w = Workspace.create(tmp_path_factory.mktemp("attr-api") / "ws", currency="GBP")
    UserStore(w.path).add("ada", PASSWORD, "analyst")
    c = client_for(create_app(w))
    r = c.post("/api/login", json={"username": "ada", "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    yield c
    w.close()


def test_api_attribution_of_posted_paths(client):
    """The toy of the rule tests: linear and Markov credits as worked out above."""
    r = client.post("/api/attribution?models=linear,markov,shapley", content=TOY_CSV,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["paths"], body["channels"], body["total_conversions"]) == (4, 4, 4)
    credit = {(x["model"], x["channel"]): x["conversions"] for x in body["credit"]}
    assert credit[("linear", "B")] == pytest.approx(7 / 6)
    # Shapley: p1 splits 2 over A, B, C; p2 1 over B, direct; p3 to direct
    assert credit[("shapley", "direct")] == pytest.approx(1.5)
    assert {x["channel"] for x in body["removal_effects"]} == {"A", "B", "C", "direct"}
    assert sum(v for (m, _), v in credit.items() if m == "markov_1") == pytest.approx(4)


@pytest.mark.parametrize(("query", "body", "where"), [
    ("", TOY_CSV.replace("B > direct,1,6,0", "B > direct,1,six,0"),
     "column 'total_conversion_value', row 3"),
    ("?models=nope", TOY_CSV, "models"),
    ("?path_column=journey", TOY_CSV, "no column 'journey'"),
    ("", "", "empty"),
    ("", "path,total_conversions\n", "no column 'total_conversion_value'"),
])
def test_api_bad_input_is_a_422(client, query, body, where):
    r = client.post(f"/api/attribution{query}", content=body,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 422, r.text
    assert where in r.text


def test_api_refuses_bytes_that_are_not_utf8(client):
    r = client.post("/api/attribution", content=b"path\xff\n",
                    headers={"content-type": "text/csv"})
    assert r.status_code == 422 and "UTF-8" in r.text


def test_api_needs_a_user_and_bounds_the_body(client):
    from tests.test_web import client_for

    anonymous = client_for(client.app)
    r = anonymous.post("/api/attribution", content=TOY_CSV,
                       headers={"content-type": "text/csv"})
    assert r.status_code == 401
    big = TOY_CSV + "A > B,1,1,1\n" * 100_000  # ~1.2 MB, above the default 1 MiB limit
    r = client.post("/api/attribution", content=big, headers={"content-type": "text/csv"})
    assert r.status_code == 413
