"""Experiments: the whole analysis of a synthetic A/B test (orders metrics, CUPED,
sequential, segments, daily series) and of an A/A test on the synthetic shop (events
metrics), on both engines."""

from __future__ import annotations

import dataclasses

import pytest

from shopscope.experiments.analysis import analyze, assignment_report
from shopscope.experiments.registry import ExperimentDefinition, MetricDef
from tests.conformance.compare import agree
from tests.conformance.conftest import SYNTH_EXPERIMENT

pytestmark = pytest.mark.spark

ORDER_METRICS = [MetricDef(name="conversion", kind="binary"),
                 MetricDef(name="revenue", kind="mean"),
                 MetricDef(name="revenue_capped", kind="mean", value="revenue",
                           cap_quantile=0.95),
                 MetricDef(name="aov", kind="ratio", numerator="revenue",
                           denominator="orders")]


def _analysis(s, definition):
    # the engine's name is the one field that must differ
    return dataclasses.replace(analyze(s, definition), engine=None)


def test_synthetic_ab_test(experiment):
    pair, sim = experiment
    d = ExperimentDefinition(experiment_id=sim.experiment_id, name="A/B",
                             variants=["control", "treatment"], start=sim.start, end=sim.end,
                             metrics=ORDER_METRICS, covariate_days=28, sequential=True,
                             segments=["new_vs_returning", "rfm_segment"])
    agree(pair, lambda s: _analysis(s, d))


def test_events_metrics_on_the_synthetic_shop(synth):
    d = ExperimentDefinition(
        experiment_id=SYNTH_EXPERIMENT, name="A/A", variants=["control", "treatment"],
        start="2023-04-01", end="2023-05-31", covariate_days=30, sequential=True,
        segments=["channel", "new_vs_returning"],
        metrics=[MetricDef(name="carted", kind="binary", source="events",
                           event_type="add_to_cart"),
                 MetricDef(name="views", kind="mean", source="events", event_type="view"),
                 MetricDef(name="toy_views", kind="mean", source="events", event_type="view",
                           filters={"category": ["toys", "electronics"]}),
                 *ORDER_METRICS[:2]])
    agree(synth, lambda s: [assignment_report(s, d), _analysis(s, d)])
