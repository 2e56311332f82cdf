"""``shopscope recommend …``: evaluate the recommenders on a temporal holdout, train and
store the best, and ask the stored model for a customer's top N or a product's similar
items (thin wrappers over :mod:`shopscope.products.service`, the answers the API gives)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shopscope.cli import DEFAULT_WS, WorkspaceOpt, _emit, check_format, console, run_local
from shopscope.core.periods import parse_date

recommend_app = typer.Typer(
    help="Personalised recommendations: holdout evaluation, training, top N per customer, "
    "similar items.", no_args_is_help=True)

Fmt = Annotated[str, typer.Option("--format", help="table | csv | json")]
Out = Annotated[Path | None, typer.Option(help="Write to this file.")]
Cutoff = Annotated[str | None, typer.Option(
    help="Train before this day (YYYY-MM-DD); default: --test-days before the data's end.")]
TestDays = Annotated[int, typer.Option(min=1, max=366, help="Days of purchases to test on.")]
K = Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="List length (top K).")]
FilterBought = Annotated[bool, typer.Option(
    "--filter-bought/--keep-bought",
    help="Leave out items the customer already bought (durable goods) or keep them "
    "(repeat purchases).")]
Models = Annotated[str | None, typer.Option(
    help="Comma-separated: popularity, buy_again, item_knn, item_bm25, als, bpr "
    "(default: all).")]
Weight = Annotated[float, typer.Option(min=0)]
PurchasesFrom = Annotated[str, typer.Option(
    help="orders (order lines) | events (purchase events, for behaviour logs without "
    "orders such as Taobao's).")]

_KINDS = {"ndcg": "rate", "recall": "rate", "precision": "rate", "map": "rate",
          "hit_rate": "rate", "coverage": "rate", "novelty": "number",
          "customers": "count", "fit_seconds": "seconds", "score": "number",
          "bought": "count", "similarity": "number", "buyers": "count", "share": "rate"}


def _kinds(frame: Any) -> dict[str, str]:
    return {c: k for c, k in _KINDS.items() if c in frame.columns}


def _eval_fields(cutoff: str | None, test_days: int, k: int, filter_bought: bool,
                 models: str | None, purchase: float, cart: float, view: float,
                 purchases_from: str) -> dict:
    names = tuple(m.strip() for m in models.split(",") if m.strip()) if models else None
    return {"cutoff": parse_date(cutoff, "--cutoff"), "test_days": test_days, "k": k,
            "filter_bought": filter_bought, "models": names, "purchase_weight": purchase,
            "cart_weight": cart, "view_weight": view, "purchases_from": purchases_from}


def _show_evaluation(e: Any, fmt: str, output: Path | None) -> None:
    title = (f"holdout: train before {e.cutoff}, test {e.cutoff} to {e.test_end}; "
             f"{e.customers:,} customers with history and test purchases, "
             f"{e.train_items:,} items; @K={e.params.k}")
    _emit(e.table, fmt, output, title=title, kinds=_kinds(e.table),
          footnote=f"default model: {e.best} (best NDCG@{e.params.k} on the holdout)"
          + (f"; skipped {', '.join(e.skipped)} (pip install 'shopscope[recs]')"
             if e.skipped else ""))


@recommend_app.command("evaluate")
def evaluate(
    workspace: WorkspaceOpt = DEFAULT_WS, cutoff: Cutoff = None, test_days: TestDays = 30,
    k: K = 10, filter_bought: FilterBought = False, models: Models = None,
    purchase_weight: Weight = 1.0, cart_weight: Weight = 0.3, view_weight: Weight = 0.1,
    purchases_from: PurchasesFrom = "orders",
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Every model and baseline on a temporal holdout: Recall, Precision, NDCG and MAP at
    K, hit rate, catalogue coverage and novelty."""
    from shopscope.products import recs_service as svc

    check_format(fmt, ("table", "csv", "json"))
    params = svc.make(svc.RecsEvalParams, **_eval_fields(
        cutoff, test_days, k, filter_bought, models, purchase_weight, cart_weight,
        view_weight, purchases_from))
    _show_evaluation(run_local(workspace, lambda ctx: svc.recs_evaluation(ctx, params))[0], fmt,
                     output)


@recommend_app.command("train")
def train(
    workspace: WorkspaceOpt = DEFAULT_WS, cutoff: Cutoff = None, test_days: TestDays = 30,
    k: K = 10, filter_bought: FilterBought = False, models: Models = None,
    model: Annotated[str | None, typer.Option(
        help="Store this model (default: the best NDCG@K on the holdout).")] = None,
    purchase_weight: Weight = 1.0, cart_weight: Weight = 0.3, view_weight: Weight = 0.1,
    purchases_from: PurchasesFrom = "orders",
) -> None:
    """Evaluate on the holdout, fit the chosen model on all the data and store it in the
    workspace (models/recs/) with its data version and evaluation."""
    from shopscope.products import recs_service as svc

    params = svc.make(svc.TrainParams, model=model, **_eval_fields(
        cutoff, test_days, k, filter_bought, models, purchase_weight, cart_weight,
        view_weight, purchases_from))
    stored = run_local(workspace, lambda ctx: svc.train_recs(ctx, params))[0]
    info = stored.info
    console.print(f"trained [bold]{info['model']}[/] ({info['chosen']}) on "
                  f"{info['customers']:,} customers × {info['items']:,} items; stored in "
                  f"{stored.path}", highlight=False)


@recommend_app.command("for")
def for_customer(
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    workspace: WorkspaceOpt = DEFAULT_WS, k: K = 10,
    filter_bought: Annotated[bool | None, typer.Option(
        "--filter-bought/--keep-bought", help="Default: as trained.")] = None,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """A customer's top K from the stored model."""
    from shopscope.products import recs_service as svc

    check_format(fmt, ("table", "csv", "json"))
    params = svc.make(svc.RecsForParams, customer_id=customer_id, k=k,
                      filter_bought=filter_bought)
    r = run_local(workspace, lambda ctx: svc.recommend_for(ctx, params))[0]
    note = "no history: popular items" if r.fallback else (
        "bought items left out" if r.filter_bought else "bought items kept")
    _emit(r.items, fmt, output, title=f"{r.model} for {r.customer_id} ({note})",
          kinds=_kinds(r.items),
          footnote="the data changed since training: retrain" if r.stale else "")


@recommend_app.command("audience")
def for_audience(
    name: Annotated[str, typer.Argument(help="A saved audience (shopscope audience save).")],
    workspace: WorkspaceOpt = DEFAULT_WS, k: K = 10,
    as_of: Annotated[str | None, typer.Option(
        help="Members on this day (YYYY-MM-DD); default: the data's last day.")] = None,
    filter_bought: Annotated[bool | None, typer.Option(
        "--filter-bought/--keep-bought", help="Default: as trained.")] = None,
    pii: Annotated[str, typer.Option(
        help="mask (ids that are e-mails or phones become pseudonyms) | raw")] = "mask",
    fmt: Annotated[str, typer.Option("--format", help="csv | json | parquet | table")] = "csv",
    output: Out = None,
) -> None:
    """Top K for every member of a saved audience, for a campaign's personalised list:
    one row per member and rank."""
    from shopscope.auth import UserStore
    from shopscope.products import recs_service as svc

    check_format(fmt, ("csv", "json", "parquet", "table"))
    params = svc.make(svc.AudienceRecsParams, audience=name, k=k,
                      as_of=parse_date(as_of, "--as-of"), filter_bought=filter_bought,
                      pii=pii)

    def run(ctx: Any) -> Any:
        # the same pseudonyms as the API's export: the workspace's secret
        key = UserStore(ctx.workspace.path).secret("pseudonym").hex()
        return svc.audience_recs(ctx, params, svc.Viewer(admin=True, pseudonym_key=key))

    r = run_local(workspace, run)[0]
    fallback = f"; {r.fallback:,} without history get popular items" if r.fallback else ""
    _emit(r.frame, fmt, output, title=f"{r.model}: top {k} for {r.members:,} members of "
          f"{name}{fallback}", kinds=_kinds(r.frame),
          footnote="the data changed since training: retrain" if r.stale else "")


@recommend_app.command("similar")
def similar(
    product_id: Annotated[str, typer.Argument(help="The product id.")],
    workspace: WorkspaceOpt = DEFAULT_WS, k: K = 10, fmt: Fmt = "table", output: Out = None,
) -> None:
    """Items similar to a product (stored model) and what its buyers also bought."""
    from shopscope.products import recs_service as svc

    check_format(fmt, ("table", "csv", "json"))
    params = svc.make(svc.SimilarParams, product_id=product_id, k=k)
    r = run_local(workspace, lambda ctx: svc.similar_items(ctx, params))[0]
    if fmt != "table":
        frame = r.similar.assign(kind="similar")
        also = r.also_bought.assign(kind="also_bought")
        import pandas as pd

        both = pd.concat([frame, also], ignore_index=True)
        _emit(both, fmt, output, kinds=_kinds(both))
        return
    _emit(r.similar, fmt, None, title=f"similar to {product_id} {r.name or ''} ({r.model})",
          kinds=_kinds(r.similar))
    _emit(r.also_bought, fmt, None,
          title=f"customers who bought {product_id} ({r.buyers:,}) also bought",
          kinds=_kinds(r.also_bought))
