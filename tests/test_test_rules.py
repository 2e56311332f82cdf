"""The test suite's own rules (tests/conftest.py): real data and Spark may be missing on a
user's machine (the tests skip) but never in CI (env CI set: the tests fail, saying what
is missing)."""

from __future__ import annotations

import pytest

import tests.conftest as rules


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """../shared/data points at a folder that does not exist."""
    missing = tmp_path / "shared" / "data"
    monkeypatch.setattr(rules, "SHARED_DATA", missing)
    return missing


def test_missing_data_skips_on_a_users_machine(no_data, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="real data not available"):
        rules.shared_file("cdnow", "CDNOW_master.txt.gz")


def test_missing_data_folder_fails_in_ci(no_data, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        rules.shared_file("cdnow", "CDNOW_master.txt.gz")
    message = str(info.value)
    assert f"the folder {no_data} is missing" in message
    assert "CI must run this test" in message


def test_missing_file_fails_in_ci_naming_the_file(no_data, monkeypatch):
    (no_data / "cdnow").mkdir(parents=True)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CDNOW_sample.txt.gz is missing"):
        rules.shared_file("cdnow", "CDNOW_sample.txt.gz")


def test_an_empty_ci_variable_is_not_ci(no_data, monkeypatch):
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        rules.shared_file("cdnow", "CDNOW_master.txt.gz")


def test_a_present_file_is_returned_in_ci_and_out(no_data, monkeypatch):
    (no_data / "cdnow").mkdir(parents=True)
    (no_data / "cdnow" / "x.txt").write_text("1\n")
    for ci in ("true", None):
        if ci:
            monkeypatch.setenv("CI", ci)
        else:
            monkeypatch.delenv("CI", raising=False)
        assert rules.shared_file("cdnow", "x.txt") == no_data / "cdnow" / "x.txt"


@pytest.mark.parametrize(("ci", "outcome"), [(None, pytest.skip.Exception),
                                             ("true", pytest.fail.Exception)])
def test_missing_spark_skips_locally_and_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setattr(rules, "spark_missing", lambda: "pyspark is not installed")
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    with pytest.raises(outcome, match="pyspark is not installed"):
        rules.shared_spark()
    with pytest.raises(outcome, match="pyspark is not installed"):
        rules.open_store("pyspark")


def test_open_store_names_the_engines():
    with pytest.raises(ValueError, match="use 'duckdb' or 'pyspark'"):
        rules.open_store("sqlite")
    store = rules.open_store("duckdb")
    assert store.engine == "duckdb" and store.list_tables() == []
    store.close()
