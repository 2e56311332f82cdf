"""``shopscope customers`` and ``shopscope audience`` on the demo data."""

from __future__ import annotations

import json
import re

import pandas as pd

from tests.test_cli import run


def test_customers_and_audience_commands(tmp_path):
    from shopscope.customers.rfm import classic_segment, rfm_scores, rfm_table
    from shopscope.store import Workspace

    assert run("demo", "-w", "ws", "--no-serve", cwd=tmp_path).returncode == 0
    proc = run("customers", "rfm", "-w", "ws", "--as-of", "2011-12-10", "--format", "json",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    ws = Workspace.open(tmp_path / "ws")
    expected = classic_segment(rfm_scores(rfm_table(ws.store, "2011-12-10"))).execute()
    ws.close()
    counts = expected.segment.value_counts()
    assert {r["segment"]: r["customers"] for r in rows} == counts.to_dict()
    life = run("customers", "lifecycle", "-w", "ws", "--as-of", "2011-12-10", "--new-days", "30",
               "--active-days", "90", "--churn-days", "180", "--format", "csv", cwd=tmp_path)
    assert life.returncode == 0, life.stderr
    stages = pd.read_csv(pd.io.common.StringIO(life.stdout))
    assert stages.customers.sum() >= counts.sum()  # every buyer plus prospects
    bad = run("customers", "lifecycle", "-w", "ws", "--new-days", "3", cwd=tmp_path)
    assert bad.returncode == 1 and "all three windows" in bad.stderr
    definition = tmp_path / "vip.json"
    definition.write_text(json.dumps({"name": "vip", "filters": [
        {"field": "m_score", "op": "eq", "value": 5}]}), encoding="utf-8")
    assert run("audience", "save", str(definition), "-w", "ws", cwd=tmp_path).returncode == 0
    out = tmp_path / "vip.csv"
    res = run("audience", "run", "vip", "-w", "ws", "--as-of", "2011-12-10", "--export", str(out),
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout.splitlines()[0])
    members = pd.read_csv(out, dtype=str)
    assert stats["size"] == len(members) > 0


def test_clv_command(tmp_path):
    assert run("demo", "-w", "ws", "--no-serve", cwd=tmp_path).returncode == 0
    out = tmp_path / "clv.csv"
    proc = run("customers", "clv", "-w", "ws", "--calibration-end", "2011-09-30",
               "--holdout-end", "2011-12-09", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "holdout to 2011-12-09" in proc.stdout and "GammaGammaModel" in proc.stdout
    frame = pd.read_csv(out, dtype={"customer_id": str})
    assert frame.customer_id.is_unique and len(frame) > 100
    assert frame.probability_alive.between(0, 1).all() and (frame.clv >= 0).all()
    bad = run("customers", "clv", "-w", "ws", "--model", "magic", cwd=tmp_path)
    assert bad.returncode == 1 and "bgnbd or pareto" in bad.stderr
    # the demo's BG/NBD finds almost no dropout: a warning with the fit's own holdout error
    lines = " ".join(proc.stdout.split())
    assert "too little dropout" in lines
    title = re.search(
        r"holdout to 2011-12-09: actual [\d,]+, predicted [\d,]+ \(([+-][\d.]+)%\)", lines)
    warned = re.search(r"Holdout error ([+-][\d.]+)% \(fitted to 2011-09-30", lines)
    assert title and warned and title.group(1) == warned.group(1)


def test_clv_on_cdnow_master(tmp_path):
    """CDNOW master through the CLI: a repeat buyer whose repeat CDs were free is left out
    of the spend fit and counted; the model has real dropout, so no warning."""
    from tests.conftest import shared_file
    from tests.test_clv import raw_cdnow_nonpositive_repeat_spenders

    path = shared_file("cdnow", "CDNOW_master.txt.gz")
    assert run("init", "w", "--currency", "USD", cwd=tmp_path).returncode == 0
    ingest = run("ingest", "cdnow", str(path), "-w", "w", cwd=tmp_path)
    assert ingest.returncode == 0, ingest.stderr
    expected = len(raw_cdnow_nonpositive_repeat_spenders(path))
    proc = run("customers", "clv", "-w", "w", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert f"{expected} excluded (mean repeat net spend <= 0)" in out
    assert "too little dropout" not in out and "Traceback" not in proc.stderr
    gross = run("customers", "clv", "-w", "w", "--spend", "gross", "--format", "json",
                cwd=tmp_path)
    assert gross.returncode == 0, gross.stderr
    assert json.loads(gross.stdout)[0]["model"] == "BetaGeoModel"  # notes go to stderr
    notes = " ".join(gross.stderr.split())
    assert f"{expected} excluded (mean repeat gross spend <= 0)" in notes
    bad = run("customers", "clv", "-w", "w", "--monetary", "list", cwd=tmp_path)
    assert bad.returncode == 1 and "unknown spend measure 'list'" in bad.stderr
    assert "net (net_amount" in bad.stderr and "gross (gross_amount" in bad.stderr
    helptext = re.sub(r"[│\s]+", " ", run("customers", "clv", "--help", cwd=tmp_path).stdout)
    assert "--spend" in helptext and "net (net_amount" in helptext and "gross" in helptext
