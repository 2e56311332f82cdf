"""shopscope: data-driven e-commerce operations on an embedded or distributed engine."""

__version__ = "0.1.0"
