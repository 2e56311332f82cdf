"""The canonical tables: one place for names, types, keys and rules."""

from shopscope.schema.tables import TABLES, Column, TableSpec, get_table

__all__ = ["TABLES", "Column", "TableSpec", "get_table"]
