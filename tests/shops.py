"""Small shops shared by several test modules: the synthetic product shop (150 customers,
60 products, 240 days with events, seed 5) as a workspace, and a service context over a
bare store."""

from __future__ import annotations

import shutil
from pathlib import Path

PASSWORD = "correct horse battery staple"


def synth_product_shop(root: Path, users: dict[str, tuple[str, str | None]]):
    """A workspace (CNY, Asia/Shanghai) holding the synthetic shop's orders, products and
    events (no inventory or spend), with ``users``: name -> (role, language or None)."""
    from shopscope.auth import UserStore
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace
    from shopscope.synth import generate

    generate(root / "synth", customers=150, seed=5, start="2023-01-01", days=240,
             products=60, events=True)
    for name in ("inventory.parquet", "marketing_spend.parquet"):
        path = root / "synth" / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    ws = Workspace.create(root / "ws", currency="CNY", timezone="Asia/Shanghai")
    ingest_file(ws, root / "synth", preset="canonical")
    store = UserStore(ws.path)
    for name, (role, lang) in users.items():
        store.add(name, PASSWORD, role, **({"lang": lang} if lang else {}))
    return ws


class BareContext:
    """A service context over a bare store (no workspace, no cache)."""

    def __init__(self, store):
        self.store = store

    def cached(self, key, compute):
        return compute()
