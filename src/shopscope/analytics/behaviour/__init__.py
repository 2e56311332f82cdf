"""Behaviour analytics over the ``events`` table: trends, funnels, retention, paths."""

from shopscope.analytics.behaviour.common import Step, property_value, visitor

__all__ = ["Step", "property_value", "visitor"]
