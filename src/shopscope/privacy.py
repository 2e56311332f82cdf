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


def hash_text(v: ir.StringValue) -> ir.StringValue:
    # Not reversible to a reader of the export; stable within one engine.
    return v.isnull().ifelse(ibis.null("string"), "h_" + v.hash().cast("string"))


def protect(table: ir.Table, mode: Mode = "mask") -> ir.Table:
    """Replace PII columns of ``table`` by masked or hashed forms (``raw`` leaves them).

    Examples
    --------
    >>> t = ibis.memtable({"email": ["jane@shop.cn"], "phone": ["+86 138 0013 8000"],
    ...                    "name": ["Jane"]})
    >>> protect(t).execute().iloc[0].tolist()
    ['j***@shop.cn', '***8000', 'J***']
    """
    if mode == "raw":
        return table
    masks = {"email": mask_email, "phone": mask_phone}
    replace = {}
    for col in PII_COLUMNS:
        if col in table.columns:
            fn = hash_text if mode == "hash" else masks.get(col, mask_text)
            replace[col] = fn(table[col].cast("string"))
    return table.mutate(**replace) if replace else table


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


def mask_rejects(t: ir.Table) -> ir.Table:
    """Replace PII-looking values of the ``_rejects`` table by ``***`` (engine side): the
    column looks like personal data, or the value looks like an e-mail address or an
    international phone number.

    Examples
    --------
    >>> t = ibis.memtable({"column": ["E-Mail", "Quantity", "Name", "customer_id", "Tel"],
    ...                    "value": ["a@b.cn", "two", "#1001", "x@y.com", "+44 20 7946 0000"]})
    >>> mask_rejects(t).execute()["value"].tolist()
    ['***', 'two', '***', '***', '***']
    >>> zh = ibis.memtable({"column": ["收货人姓名", "宝贝数量"], "value": ["张三", "x"]})
    >>> mask_rejects(zh).execute()["value"].tolist()
    ['***', 'x']
    """
    name = t.column.lower().re_replace(r"[^a-z]", "")
    value = t.value.fill_null("")
    pii = (t.column.isin(PII_COLUMNS) | name.re_search(_PII_COLUMN)
           | t.column.fill_null("").re_search(_PII_COLUMN_ZH)
           | value.re_search(_EMAIL_VALUE) | value.re_search(_PHONE_VALUE))
    return t.mutate(value=(t.value.notnull() & pii).ifelse(ibis.literal(MASK), t.value))
