"""Customer PII masking, as engine expressions so that exports never pull raw PII out.

Masked forms keep enough to recognise a record (first letter, e-mail domain, last four
digits) and nothing more. ``hash`` mode gives a stable pseudonym for joins.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

PII_COLUMNS = ("email", "phone", "name", "address")
Mode = Literal["mask", "hash", "raw"]


def mask_email(v: ir.StringValue) -> ir.StringValue:
    domain = v.re_extract(r"@(.*)$", 1)
    return v.isnull().ifelse(ibis.null("string"), v.left(1) + "***@" + domain)


def mask_phone(v: ir.StringValue) -> ir.StringValue:
    digits = v.re_replace(r"[^0-9]", "")
    return v.isnull().ifelse(ibis.null("string"), "***" + digits.right(4))


def mask_text(v: ir.StringValue) -> ir.StringValue:
    return v.isnull().ifelse(ibis.null("string"), v.left(1) + "***")


def hash_text(v: ir.StringValue, key: str | None = None) -> ir.StringValue:
    """A stable pseudonym; keyed (SHA-256 of a workspace secret and the value) when ``key``
    is given, so that nobody can confirm a guessed e-mail address by hashing it."""
    if key:
        digest = (ibis.literal(key) + v).hexdigest("sha256").left(16)
    else:  # not reversible to a reader of the export; stable within one engine
        digest = v.hash().cast("string")
    return v.isnull().ifelse(ibis.null("string"), "h_" + digest)


# -- customer ids that are themselves personal data -----------------------------------------
# Shopify exports have no customer id (the mapping uses the e-mail address), Chinese shops
# often key customers by mobile number. Such an id is PII wherever it appears.
_PII_ID = (r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"        # e-mail address
           r"|^\s*\+[0-9][0-9 ()./-]{6,}[0-9]\s*$"    # international phone number
           r"|^(\+?86)?1[3-9][0-9]{9}$"             # mainland China mobile number
           r"|^\(?[0-9]{2,5}\)?[ .-][0-9]{3,4}[ .-][0-9]{3,4}$")  # 020 7946 0018, 555-123-4567
PSEUDONYM = r"^c_[0-9a-f]{16}$"


def looks_like_pii(value: str) -> bool:
    """True for an id that is an e-mail address or a phone number.

    Examples
    --------
    >>> [looks_like_pii(v) for v in ("jane@shop.cn", "+44 20 7946 0018", "13800138000",
    ...                              "555-123-4567", "17850", "C-1001", "c_0123456789abcdef")]
    [True, True, True, True, False, False, False]
    """
    import re

    return bool(re.search(_PII_ID, value))


def is_pseudonym(value: str) -> bool:
    import re

    return bool(re.match(PSEUDONYM, value))


def pseudonym(v: ir.StringValue, key: str) -> ir.StringValue:
    """``c_`` and 16 hex digits of SHA-256(key ‖ id): stable per workspace, not reversible
    without the key (the server resolves it back by recomputing, see :func:`public_id`)."""
    return "c_" + (ibis.literal(key) + v).hexdigest("sha256").left(16)


def public_id(v: ir.StringValue, key: str) -> ir.StringValue:
    """The id as non-admins see it: a pseudonym when it looks like PII, else itself."""
    return (v.notnull() & v.re_search(_PII_ID)).ifelse(pseudonym(v, key), v)


def protect(table: ir.Table, mode: Mode = "mask", key: str | None = None) -> ir.Table:
    """Replace PII columns of ``table`` by masked or hashed forms (``raw`` leaves them).

    With ``key`` (the workspace's pseudonym secret), customer ids that look like PII
    (:func:`looks_like_pii`) become pseudonyms and ``hash`` mode is keyed.

    Examples
    --------
    >>> t = ibis.memtable({"email": ["jane@shop.cn"], "phone": ["+86 138 0013 8000"],
    ...                    "name": ["Jane"]})
    >>> protect(t).execute().iloc[0].tolist()
    ['j***@shop.cn', '***8000', 'J***']

    ``attributes`` (the source's free-form JSON) is emptied unless ``mode`` is raw.
    """
    if mode == "raw":
        return table
    masks = {"email": mask_email, "phone": mask_phone}
    replace = {}
    for col in PII_COLUMNS:
        if col in table.columns:
            value = table[col].cast("string")
            mask = masks.get(col, mask_text)
            replace[col] = hash_text(value, key) if mode == "hash" else mask(value)
    if key and "customer_id" in table.columns:
        replace["customer_id"] = public_id(table.customer_id.cast("string"), key)
    if "attributes" in table.columns:
        # Free-form JSON from the source (names, e-mails, phones …): no masking can know
        # which keys are personal, so only raw exports carry it.
        replace["attributes"] = ibis.null("string")
    return table.mutate(**replace) if replace else table


def protect_ids(table: ir.Table, columns: tuple[str, ...], mode: Mode,
                key: str) -> ir.Table:
    """``columns`` of visitor or customer ids as :func:`public_id` unless ``mode`` is raw:
    exports of visitors (a funnel's drop-outs) follow the rule of customer exports.

    >>> t = ibis.memtable({"visitor": ["jane@shop.cn", "v-17"], "user_id": ["jane@shop.cn",
    ...                                                                    None]})
    >>> out = protect_ids(t, ("visitor", "user_id"), "mask", "k").execute()
    >>> [v[:2] for v in out["visitor"]], out["user_id"].isna().tolist()
    (['c_', 'v-'], [False, True])
    """
    if mode == "raw":
        return table
    present = [c for c in columns if c in table.columns]
    return table.mutate(**{c: public_id(table[c].cast("string"), key) for c in present})


MASK = "***"
# Rejected rows name the *source file's* column ("E-Mail", "Customer Phone", "收货人姓名"),
# so the rule is wider than the canonical names. Matched against the column name
# lower-cased with everything but letters removed:
_PII_COLUMN = (r"mail|phone|mobile|address|^tel$|^telephone$|^name$|firstname|lastname|"
               r"fullname|surname|givenname|familyname|customername|contactname|buyername|"
               r"recipient|receiver|shipto|billto|idcard|passport")
_PII_COLUMN_ZH = r"姓名|电话|手机|地址|邮箱|会员名|收货人|联系人|身份证"
_EMAIL_VALUE = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
_PHONE_VALUE = r"^\s*\+[0-9][0-9 ()./-]{6,}[0-9]\s*$"


#: Canonical columns that hold a person's data or identify a person, whatever the value
#: looks like (a Taobao buyer's member name is their customer id). ``products.name`` is
#: a product's name: not personal.
PERSON_COLUMNS = (*PII_COLUMNS, "customer_id", "user_id", "anonymous_id")


def mask_rejects(t: ir.Table) -> ir.Table:
    """Replace PII-looking values of the ``_rejects`` table by ``***`` (engine side): the
    column's role is personal (:data:`PERSON_COLUMNS`, outside ``products``), its name
    looks like personal data, or the value looks like an e-mail address or a phone number.

    Examples
    --------
    >>> t = ibis.memtable({"column": ["E-Mail", "Quantity", "Name", "customer_id", "Tel"],
    ...                    "value": ["a@b.cn", "two", "#1001", "x@y.com", "+44 20 7946 0000"]})
    >>> mask_rejects(t).execute()["value"].tolist()
    ['***', 'two', '***', '***', '***']
    >>> ids = ibis.memtable({"table_name": ["orders", "products", "customers"],
    ...                      "column": ["customer_id", "name", "name"],
    ...                      "value": ["Jane Doe", "Robot", "Jane Doe"]})
    >>> mask_rejects(ids).execute()["value"].tolist()
    ['***', 'Robot', '***']
    >>> zh = ibis.memtable({"column": ["收货人姓名", "宝贝数量"], "value": ["张三", "x"]})
    >>> mask_rejects(zh).execute()["value"].tolist()
    ['***', 'x']
    """
    name = t.column.lower().re_replace(r"[^a-z]", "")
    value = t.value.fill_null("")
    table = t.table_name.fill_null("") if "table_name" in t.columns else ibis.literal("")
    person = (t.column.isin(PERSON_COLUMNS) | name.re_search(_PII_COLUMN)
              | t.column.fill_null("").re_search(_PII_COLUMN_ZH))
    pii = ((person & (table != "products"))
           | value.re_search(_EMAIL_VALUE) | value.re_search(_PHONE_VALUE)
           | value.re_search(_PII_ID))
    return t.mutate(value=(t.value.notnull() & pii).ifelse(ibis.literal(MASK), t.value))
