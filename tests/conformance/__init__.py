"""The conformance suite: every area's answers are the same on DuckDB and on Spark.

Each module asks one area's public functions the same questions on the shops of
``conftest.py`` (one load per engine per test run) and compares the answers with
:func:`tests.conformance.compare.assert_same`. A known difference is a strict xfail that
names it, so fixing it turns the run red until the mark goes. The whole suite is marked
``spark``: without pyspark or Java it skips on a user's machine and fails in CI.
"""
