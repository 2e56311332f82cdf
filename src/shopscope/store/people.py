"""People: customer ids of one person across channels resolve to one person id.

A shop knows one person by several customer ids (the site account, a marketplace buyer, a
store's loyalty card). ``identities`` rows and the ``email`` / ``phone`` of ``customers``
give each customer id its *identifiers*; customer ids that share an identifier are one
person. The rule (documented in ``docs/identity.md``):

1. Identifiers are ``(kind, value)``, normalised: e-mail addresses are trimmed, lower-cased
   and hashed (SHA-256, hex), so an address and its hash match; phones keep their digits
   (fewer than 6 digits, or one digit repeated, is not a phone); other values are trimmed.
2. An identifier held by more than :data:`MAX_SHARED` customer ids is junk (a store's
   default phone, ``unknown@…``) and links no one.
3. Links are made strongest kind first (:func:`kind_rank`: explicit links and member ids,
   then marketplace and channel buyer ids, then e-mail, then phone), each kind in value
   order. Member ids and a channel's buyer ids are *account* kinds, one per person: a link
   is refused when the two groups it would join both hold ids of an account kind stronger
   than the link's and share none of them (two members sharing a household phone, two
   Tmall buyers sharing an e-mail stay two people). E-mails and phones never refuse a
   link: one person may have several.
4. A person's id is the smallest customer id of the group (string order): stable across
   loads that do not change the group.

The map is computed after every load that writes ``customers`` or ``identities`` (in the
load's transaction) and kept in ``_person_map``, with a row only for the customer ids that
resolve to another id, so a shop without shared identifiers has an empty map and every
query runs exactly as before. Only the identifier edges of customers that share something
leave the engine; event and order tables are never read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

if TYPE_CHECKING:
    from shopscope.store.engine import Store

#: The bookkeeping table holding ``customer_id → person_id`` for merged ids only.
PERSON_MAP = "_person_map"
PERSON_MAP_SCHEMA = ibis.schema({"customer_id": "string", "person_id": "string"})

#: An identifier shared by more customer ids than this links no one (junk or shared).
MAX_SHARED = 5

#: Analysed tables and the column that holds a customer id.
PERSON_COLUMNS = {"orders": "customer_id", "returns": "customer_id", "events": "user_id",
                  "experiments": "unit_id"}

# identities.channel spellings of each kind (compared trimmed and lower-cased)
_LINK = ("customer", "customer_id", "same_as")
_MEMBER = ("member", "member_id", "membership", "loyalty", "loyalty_id", "card")
_EMAIL = ("email", "e-mail", "mail", "email_hash", "email_sha256", "email_sha-256")
_PHONE = ("phone", "mobile", "tel", "telephone", "phone_number", "mobile_phone")


def kind_rank(kind: str) -> int:
    """Precedence of an identifier kind: lower is stronger.

    >>> [kind_rank(k) for k in ("link", "member", "channel:tmall", "email", "phone")]
    [0, 0, 1, 2, 3]
    """
    if kind in ("link", "member"):
        return 0
    if kind.startswith("channel:"):
        return 1
    return {"email": 2, "phone": 3}[kind]


def _account(kind: str) -> bool:
    """Kinds a person holds one of (a member id, one buyer id per channel)."""
    return kind == "member" or kind.startswith("channel:")


def _email_key(text: ir.StringValue) -> ir.StringValue:
    return text.strip().lower().hexdigest("sha256")


def _phone_key(text: ir.StringValue) -> ir.StringValue:
    digits = text.re_replace(r"[^0-9]", "")
    # fewer than 6 digits or one digit repeated ("0000000000") is a placeholder
    junk = (digits.length() < 6) | (digits.replace(digits.substr(0, 1), "") == "")
    return ibis.cases((junk, ibis.null("string")), else_=digits)


def identifier_edges(store: Store) -> ir.Table:
    """``customer_id, kind, value`` for every identifier of every customer id (see the
    module's rule 1)."""
    i = store.table("identities", raw=True)
    channel = i.channel.strip().lower()
    ext = i.external_id.cast("string").strip()
    kind = ibis.cases(
        (channel.isin(_LINK), "link"),
        (channel.isin(_MEMBER), "member"),
        (channel.isin(_EMAIL), "email"),
        (channel.isin(_PHONE), "phone"),
        else_="channel:" + channel,
    )
    value = ibis.cases(
        (channel.isin(_EMAIL) & ext.contains("@"), _email_key(ext)),
        (channel.isin(_EMAIL), ext.lower()),
        (channel.isin(_PHONE), _phone_key(ext)),
        else_=ext,
    )
    ids = i.select(customer_id=i.customer_id.cast("string"), kind=kind, value=value)
    # an explicit link names the other customer id: that id holds the same identifier
    linked = ids.filter(ids.kind == "link").select(customer_id=ids.value, kind=ids.kind,
                                                   value=ids.value)
    c = store.table("customers", raw=True)
    email = c.email.cast("string")
    emails = c.filter(email.contains("@")).select(
        customer_id=c.customer_id.cast("string"), kind=ibis.literal("email"),
        value=_email_key(c.email.cast("string")))
    phones = c.select(customer_id=c.customer_id.cast("string"), kind=ibis.literal("phone"),
                      value=_phone_key(c.phone.cast("string")))
    edges = ids.union(linked).union(emails).union(phones)  # union is distinct
    return edges.filter(edges.value.notnull() & (edges.value != "")
                        & edges.customer_id.notnull())


def candidate_edges(store: Store) -> tuple[ir.Table, ir.Table]:
    """The edges the resolution needs (customer ids that share a usable identifier, with
    all their usable identifiers) and the junk identifiers (over :data:`MAX_SHARED`)."""
    edges = identifier_edges(store)
    per = edges.group_by("kind", "value").aggregate(n=edges.customer_id.nunique())
    junk = per.filter(per.n > MAX_SHARED)
    usable = edges.anti_join(junk, ["kind", "value"])
    shared = per.filter((per.n > 1) & (per.n <= MAX_SHARED))
    linked_ids = usable.semi_join(shared, ["kind", "value"]).select("customer_id").distinct()
    return usable.semi_join(linked_ids, "customer_id"), junk


def resolve(edges: list[tuple[str, str, str]]) -> dict[str, str]:
    """``customer_id → person_id`` from ``(customer_id, kind, value)`` edges, by the
    module's rules 3 and 4; every customer id of the edges is in the result.

    >>> resolve([("b", "email", "h"), ("a", "email", "h"), ("c", "phone", "p")])
    {'a': 'a', 'b': 'a', 'c': 'c'}
    >>> # two members sharing a phone stay two people
    >>> resolve([("a", "member", "1"), ("b", "member", "2"), ("a", "phone", "p"),
    ...          ("b", "phone", "p")])
    {'a': 'a', 'b': 'b'}
    """
    parent: dict[str, str] = {}
    # per group root: kind -> values
    held: dict[str, dict[str, set[str]]] = {}
    holders: dict[tuple[str, str], set[str]] = {}
    for cid, kind, value in edges:
        parent.setdefault(cid, cid)
        holders.setdefault((kind, value), set()).add(cid)
        held.setdefault(cid, {}).setdefault(kind, set()).add(value)

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def conflict(a: str, b: str, rank: int) -> bool:
        ka, kb = held[a], held[b]
        return any(_account(k) and kind_rank(k) < rank and k in kb and not (ka[k] & kb[k])
                   for k in ka)

    order = sorted(holders, key=lambda kv: (kind_rank(kv[0]), kv[0], kv[1]))
    for kind, value in order:
        members = sorted(holders[(kind, value)])
        if len(members) < 2:
            continue
        rank = kind_rank(kind)
        for other in members[1:]:
            a, b = find(members[0]), find(other)
            if a == b or conflict(a, b, rank):
                continue
            keep, gone = (a, b) if a < b else (b, a)  # the smaller id stays the root
            parent[gone] = keep
            for k, vals in held.pop(gone).items():
                held[keep].setdefault(k, set()).update(vals)
    return {cid: find(cid) for cid in sorted(parent)}


def person_map(store: Store) -> pa.Table:
    """The rows of ``_person_map``: customer ids that resolve to another id."""
    edges, _ = candidate_edges(store)
    frame = edges.execute()
    mapping = resolve(list(zip(frame["customer_id"], frame["kind"], frame["value"],
                               strict=True)))
    rows = sorted((c, p) for c, p in mapping.items() if c != p)
    return pa.table({"customer_id": pa.array([r[0] for r in rows], pa.string()),
                     "person_id": pa.array([r[1] for r in rows], pa.string())})


def junk_identifiers(store: Store) -> Any:
    """``kind, value, n`` of the identifiers ignored for being shared too widely."""
    _, junk = candidate_edges(store)
    return junk.order_by(ibis.desc("n"), "kind", "value").execute()


def refresh(store: Store) -> int:
    """Recompute ``_person_map``; returns how many customer ids resolve to another id."""
    rows = person_map(store)
    store.replace(PERSON_MAP, store.from_arrow(rows) if rows.num_rows else
                  ibis.memtable(rows, schema=PERSON_MAP_SCHEMA))
    return rows.num_rows


def resolved(t: ir.Table, name: str, people: ir.Table) -> ir.Table:
    """``t`` (a table of ``name``) with customer ids replaced by person ids (``people`` is
    the non-empty ``_person_map``); ``customers`` keeps one row per person."""
    if name == "customers":
        return _one_row_per_person(t, people)
    col = PERSON_COLUMNS.get(name)
    if col is None or col not in t.columns:
        return t
    m = people.select(_raw="customer_id", _person="person_id")
    j = t.left_join(m, t[col].cast("string") == m._raw)
    person = j._person.coalesce(j[col].cast("string")).cast(t[col].type())
    return j.select(*[person.name(c) if c == col else j[c] for c in t.columns])


def _one_row_per_person(c: ir.Table, people: ir.Table) -> ir.Table:
    """Each person's row is its own id's row (else its smallest id's), first seen at the
    earliest of its ids."""
    m = people.select(_raw="customer_id", _person="person_id")
    j = c.left_join(m, c.customer_id == m._raw)
    j = j.mutate(_pid=j._person.coalesce(j.customer_id))
    merged = j.filter(j._pid.isin(m._person))
    own = j.filter(~j._pid.isin(m._person)).select(*c.columns)
    w = ibis.window(group_by=merged._pid,
                    order_by=[(merged.customer_id != merged._pid), merged.customer_id])
    ranked = merged.mutate(_n=ibis.row_number().over(w),
                           _first=merged.first_seen_at.min().over(group_by=merged._pid))
    one = ranked.filter(ranked._n == 0)
    one = one.select(*[one._pid.name(k) if k == "customer_id"
                       else one._first.name(k) if k == "first_seen_at" else one[k]
                       for k in c.columns])
    return own.union(one, distinct=False)
