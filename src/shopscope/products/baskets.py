"""Frequently bought together: association rules on order baskets, counted in the engine.

A basket is the set of distinct items (SKUs, or categories for category-level rules) on
the lines of one order placed in the window and not cancelled. Itemsets are counted the
Apriori way, without a basket matrix: frequent items first, then pairs as a self-join of
the baskets restricted to frequent items (``a < b``), then triples as a join of frequent
pairs with a third frequent item whose sub-pairs are all frequent. Only itemsets with
``support >= min_support`` survive each step, so the joins stay small.

The rules and their measures are those of mlxtend's ``association_rules`` (a test checks
them on Online Retail), for a rule ``A → C`` over ``N`` baskets:

* support = n(A ∪ C) / N, confidence = support / support(A), lift = confidence /
  support(C), leverage = support - support(A) · support(C), conviction = (1 -
  support(C)) / (1 - confidence) (infinite when confidence is 1).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopscope.core.tables import TableSource
from shopscope.errors import OptionError
from shopscope.products.metrics import UNKNOWN, _window

LEVELS = ("product", "category")


def baskets(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None,
            level: str = "product") -> ir.Table:
    """Distinct ``(order_id, item)`` of the non-cancelled orders placed in the window, with
    the order's gross value (``value``) for the baskets' AOV."""
    orders = _window(tables.table("orders"), "ordered_at", start, stop)
    orders = orders.filter(orders.status != "cancelled")
    heads = orders.select(_oid=orders.order_id, value=orders.gross_amount)
    items = tables.table("order_items")
    items = items.filter(items.product_id.notnull())
    j = items.join(heads, items.order_id == heads._oid)
    if level == "category":
        p = tables.table("products")
        cat = p.select(_pid=p.product_id, _cat=p.category)
        j = j.left_join(cat, j.product_id == cat._pid)
        item = j._cat.fill_null(UNKNOWN)
    else:
        item = j.product_id
    return j.select(order_id=j.order_id, item=item, value=j.value).distinct()


#: The most candidate rows a pair (or triple) count may join: a support so low that nearly
#: every item is frequent would otherwise exhaust memory (a request may ask for anything).
MAX_CANDIDATES = 30_000_000
#: Frequent pairs or triples past which a request is refused: each triple makes six rules,
#: and a support that keeps this many describes noise (122 baskets of the demo's first
#: week at 1% keep 195k triples seen twice, 1.2M rules, seconds of work for nothing).
MAX_ITEMSETS = 100_000


def _check_work(fb: ir.Table, max_len: int, min_support: float) -> None:
    """Refuse, before joining, a pair count whose candidate rows exceed
    :data:`MAX_CANDIDATES` (per basket of k frequent items, k(k-1)/2 pairs; the triples
    are then drawn from frequent pairs only)."""
    k = fb.group_by("order_id").aggregate(k=fb.count()).k.cast("float64")
    found = (k * (k - 1) / 2).sum().execute()
    if found is not None and found == found and found > MAX_CANDIDATES:
        raise OptionError(
            f"min_support {min_support:g} is too low for these baskets: counting would join "
            f"{found:,.0f} candidate rows (the limit is {MAX_CANDIDATES:,})",
            hint="raise min_support (a share of baskets, e.g. 0.01)")


def _check_found(t: ir.Table, what: str, min_support: float) -> None:
    found = int(t.count().execute())
    if found > MAX_ITEMSETS:
        raise OptionError(
            f"min_support {min_support:g} is too low for these baskets: {found:,} frequent "
            f"{what} (the limit is {MAX_ITEMSETS:,})",
            hint="raise min_support (a share of baskets, e.g. 0.02), or max_len 2 for pairs")


def itemsets(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None, *,
             min_support: float, level: str = "product", max_len: int = 3,
             values: bool = False) -> tuple[ir.Table, ir.Table, ir.Table | None,
                                            ir.Table | None]:
    """``(n, items, pairs, triples)``: the basket count (one row ``n``) and the frequent
    itemsets (columns ``item`` or ``a, b[, c]`` in ascending order) with their basket
    ``count`` and, with ``values``, the summed basket value ``value``
    (``pairs``/``triples`` None past ``max_len``)."""
    # Each step is materialised in the engine (``cache``: a temporary table), since the
    # later steps and the rules read it several times and would otherwise recompute it.
    b = baskets(tables, start, stop, level).cache()
    n = b.aggregate(n=b.order_id.nunique()).cache()

    def frequent(t: ir.Table) -> ir.Table:
        t = t.cross_join(n)
        return t.filter((t["count"] / t.n) >= min_support).drop("n").cache()

    def sums(t: ir.Table) -> dict[str, ir.Value]:
        return {"count": t.count(), **({"value": t.value.sum()} if values else {})}

    items = frequent(b.group_by("item").agg(**sums(b)))
    if max_len < 2:
        return n, items, None, None
    # the joins run on small integer ids of the frequent items (numbered in item order,
    # so id order is item order): hashing and comparing integers beats strings
    ids = items.select(_item=items.item,
                       iid=ibis.row_number().over(ibis.window(order_by=items.item)))
    fb = b.join(ids, b.item == ids._item)
    fb = fb.select("order_id", "iid", *(["value"] if values else [])).cache()
    _check_work(fb, max_len, min_support)
    x, y = fb.view(), fb.view()
    xy = x.join(y, (x.order_id == y.order_id) & (x.iid < y.iid))
    pair_rows = xy.select(order_id=x.order_id, a=x.iid, b=y.iid,
                          **({"value": x.value} if values else {}))
    pair_ids = frequent(pair_rows.group_by(["a", "b"]).agg(**sums(pair_rows)))

    def named(t: ir.Table, cols: tuple[str, ...]) -> ir.Table:
        for col in cols:
            m = ids.view()
            t = t.join(m, t[col] == m.iid).mutate(**{col: m._item}).drop("_item", "iid")
        return t

    pairs = named(pair_ids, ("a", "b")).cache()
    _check_found(pairs, "pairs", min_support)
    if max_len < 3:
        return n, items, pairs, None
    # candidates: a frequent pair (a, b) in the basket plus an item c > b whose pairs
    # (a, c) and (b, c) are frequent too
    fp = pair_rows.semi_join(pair_ids, (pair_rows.a == pair_ids.a) & (pair_rows.b == pair_ids.b))
    z = fb.view()
    abc = fp.join(z, (fp.order_id == z.order_id) & (z.iid > fp.b))
    abc = abc.select(a=fp.a, b=fp.b, c=z.iid, **({"value": fp.value} if values else {}))
    ac, bc = pair_ids.view(), pair_ids.view()
    abc = abc.semi_join(ac, (abc.a == ac.a) & (abc.c == ac.b))
    abc = abc.semi_join(bc, (abc.b == bc.a) & (abc.c == bc.b))
    triples = named(frequent(abc.group_by(["a", "b", "c"]).agg(**sums(abc))),
                    ("a", "b", "c")).cache()
    _check_found(triples, "triples", min_support)
    return n, items, pairs, triples


def _lookup(t: ir.Table, other: ir.Table, on: dict[str, str], take: dict[str, str],
            how: str = "inner") -> ir.Table:
    """``t`` joined with ``other`` on ``t[k] == other[v]`` for ``on``, adding ``other``'s
    columns ``take`` (new name → column)."""
    sel = other.select(**{f"_k{i}": other[c] for i, c in enumerate(on.values())},
                       **{new: other[c] for new, c in take.items()})
    preds = [t[k] == sel[f"_k{i}"] for i, k in enumerate(on)]
    return t.join(sel, preds, how=how).drop(*(f"_k{i}" for i in range(len(on))))


def _value(t: ir.Table) -> ir.Value:
    return t.value.cast("float64") if "value" in t.columns else ibis.null("float64")


def _rule(ante: list[ir.Value], cons: list[ir.Value], n_ac: ir.Value, n_a: ir.Value,
          n_c: ir.Value, value: ir.Value, n: ir.Value) -> dict[str, ir.Value]:
    s_ac = n_ac.cast("float64") / n
    s_a = n_a.cast("float64") / n
    s_c = n_c.cast("float64") / n
    conf = s_ac / s_a
    return {
        "antecedents": ibis.array(ante), "consequents": ibis.array(cons),
        "antecedent_support": s_a, "consequent_support": s_c, "support": s_ac,
        "confidence": conf, "lift": conf / s_c, "leverage": s_ac - s_a * s_c,
        "conviction": (conf == 1.0).ifelse(ibis.literal(float("inf")),
                                        (1.0 - s_c) / (1.0 - conf)),
        "count": n_ac, "basket_value": value}


def rules(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None, *,
          min_support: float = 0.01, min_confidence: float = 0.0, min_lift: float = 0.0,
          level: str = "product", max_len: int = 3, values: bool = False) -> ir.Table:
    """Every rule ``A → C`` from the frequent pairs (and triples, when ``max_len`` is 3)
    with ``confidence >= min_confidence`` and ``lift >= min_lift``.

    ``antecedents`` and ``consequents`` are sorted arrays of items; ``basket_value`` is the
    summed gross value of the baskets holding the whole itemset (null unless ``values``).
    """
    n, items, pairs, triples = itemsets(tables, start, stop, min_support=min_support,
                                        level=level, max_len=max_len, values=values)
    if pairs is None:
        raise ValueError("rules need itemsets of two items or more (max_len >= 2)")
    p = _lookup(pairs, items, {"a": "item"}, {"n_a": "count"})
    p = _lookup(p, items, {"b": "item"}, {"n_b": "count"}).cross_join(n)
    parts = [
        p.select(**_rule([p.a], [p.b], p["count"], p.n_a, p.n_b, _value(p), p.n)),
        p.select(**_rule([p.b], [p.a], p["count"], p.n_b, p.n_a, _value(p), p.n)),
    ]
    if triples is not None:
        t = triples
        for col in ("a", "b", "c"):
            t = _lookup(t, items, {col: "item"}, {f"n_{col}": "count"})
        for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
            t = _lookup(t, pairs, {x: "a", y: "b"}, {f"n_{x}{y}": "count"})
        t = t.cross_join(n)
        cnt, val = t["count"], _value(t)
        for single, rest, n_rest in (("a", ("b", "c"), "n_bc"), ("b", ("a", "c"), "n_ac"),
                                     ("c", ("a", "b"), "n_ab")):
            restv = [t[r] for r in rest]
            parts.append(t.select(**_rule([t[single]], restv, cnt, t[f"n_{single}"],
                                          t[n_rest], val, t.n)))
            parts.append(t.select(**_rule(restv, [t[single]], cnt, t[n_rest],
                                          t[f"n_{single}"], val, t.n)))
    out = ibis.union(*parts, distinct=False)
    return out.filter(out.confidence >= min_confidence, out.lift >= min_lift)


def bundles(tables: TableSource, start: dt.datetime | None, stop: dt.datetime | None, *,
            min_support: float = 0.01, max_len: int = 3) -> ir.Table:
    """Pairs and triples of SKUs to sell as a bundle, with what each is worth.

    For a bundle ``S`` bought whole in ``n(S)`` baskets: ``co_rate`` = n(S) / baskets
    holding any item of S (how often buyers of one take the rest), ``aov`` = the average
    gross value of the baskets holding S, and ``added_value`` = Σ over items i of S of
    (n(i) - n(S)) × confidence(i → S∖i) × price(S∖i): the value the baskets holding i
    without the rest would add if they took the rest at the rate i's buyers did, at
    the rest's average unit price in the window.
    """
    n, items, pairs, triples = itemsets(tables, start, stop, min_support=min_support,
                                        max_len=max_len, values=True)
    assert pairs is not None
    orders = _window(tables.table("orders"), "ordered_at", start, stop)
    orders = orders.filter(orders.status != "cancelled")
    li = tables.table("order_items")
    li = li.semi_join(orders, li.order_id == orders.order_id)
    price = li.group_by(_item=li.product_id).agg(
        price=((li.quantity * li.unit_price).sum() / li.quantity.sum()).cast("float64"))
    cols = ("a", "b", "c")
    out = []
    for t, k in ((pairs, 2), (triples, 3)):
        if t is None:
            continue
        names = cols[:k]
        for col in names:
            t = _lookup(t, items, {col: "item"}, {f"n_{col}": "count"})
            t = _lookup(t, price, {col: "_item"}, {f"p_{col}": "price"}, how="left")
        pair_n: list[str] = []
        if k == 3:
            for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
                t = _lookup(t, pairs, {x: "a", y: "b"}, {f"n_{x}{y}": "count"})
                pair_n.append(f"n_{x}{y}")
        t = t.cross_join(n)
        cnt = t["count"].cast("float64")
        singles = [t[f"n_{c}"].cast("float64") for c in names]
        any_ = sum(singles) - cnt if k == 2 else (
            sum(singles) - sum(t[v].cast("float64") for v in pair_n) + cnt)
        added = ibis.literal(0.0)
        for c in names:
            rest_price = sum(t[f"p_{r}"].fill_null(0.0) for r in names if r != c)
            n_c = t[f"n_{c}"].cast("float64")
            added = added + (n_c - cnt) * (cnt / n_c) * rest_price
        out.append(t.select(
            items=ibis.array([t[c] for c in names]), size=ibis.literal(k, "int64"),
            count=t["count"], support=cnt / t.n, co_rate=cnt / any_,
            aov=t.value / cnt, added_value=added.cast("float64"),
            price=sum(t[f"p_{c}"].fill_null(0.0) for c in names)))
    return ibis.union(*out, distinct=False)


def bought_with(tables: TableSource, product_id: str, start: dt.datetime | None,
                stop: dt.datetime | None, *, min_count: int = 1) -> ir.Table:
    """Items bought in the same baskets as ``product_id`` (no support pruning: one
    product's baskets are few), with ``count``, ``confidence`` (product → item) and
    ``lift``."""
    b = baskets(tables, start, stop)
    n = b.aggregate(n=b.order_id.nunique())
    mine = b.filter(b.item == product_id).select(_o=b.order_id)
    n_mine = mine.aggregate(n_x=mine.count())
    other = b.filter(b.item != product_id)
    co = other.semi_join(mine, other.order_id == mine._o)
    co = co.group_by("item").agg(count=co.count())
    co = co.filter(co["count"] >= min_count)
    freq = b.group_by(_i=b.item).agg(n_y=b.count())
    co = co.join(freq, co.item == freq._i).cross_join(n).cross_join(n_mine)
    conf = co["count"].cast("float64") / co.n_x
    return co.select(item=co.item, count=co["count"], confidence=conf,
                     lift=conf / (co.n_y.cast("float64") / co.n))
