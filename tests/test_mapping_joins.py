"""Mapping files that describe real exports: joined files, computed columns, row filters,
per-file read options, and errors that name the mapping's line.

Each test writes its own small files; expected values are worked out by hand from them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shopscope.ingest.compute import ExpressionError, Names, check_syntax, compile_expression
from shopscope.ingest.mapping import MappingError, ingest_mapping, load_mapping
from shopscope.ingest.tomllines import key_lines
from shopscope.store import Workspace


@pytest.fixture
def ws(tmp_path):
    w = Workspace.create(tmp_path / "ws", timezone="UTC")
    yield w
    w.close()


def _write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _orders(ws: Workspace) -> dict[str, dict]:
    df = ws.store.table("orders").execute()
    return {r["order_id"]: r for r in df.to_dict("records")}


ORDERS = "id,buyer,day,state\nA1,c1,2024-05-01,paid\nA2,c2,2024-05-02,paid\nA3,c3,2024-05-03,open\n"
ITEMS = "order,sku,qty,price\nA1,TEA,2,3.50\nA1,CUP,1,8.00\nA2,TEA,4,3.50\n"
PEOPLE = "customer_id,person\nc1,P-ANN\nc2,P-BEN\nc3,P-ANN\n"
JOINED = '''
[[source]]
file = "orders.csv"
table = "orders"

[[source.join]]
name = "items"
file = "items.csv"
on = { id = "order" }
aggregate = { goods = "sum(qty * price)", lines = "count()" }

[[source.join]]
name = "who"
file = "people.csv"
on = { buyer = "customer_id" }

[source.columns]
order_id = "id"
customer_id = "who.person"
ordered_at = "day"
status = "state"

[source.compute]
gross_amount = "coalesce(items.goods, 0)"

[source.values.status]
paid = "completed"
open = "pending"

[source.constants]
channel = "web"
'''


def test_order_totals_from_an_items_file_and_a_customer_through_a_second_file(ws, tmp_path):
    for name, text in (("orders.csv", ORDERS), ("items.csv", ITEMS), ("people.csv", PEOPLE)):
        _write(tmp_path, name, text)
    mapping = _write(tmp_path, "shop.toml", JOINED)
    [result] = ingest_mapping(ws, mapping)
    assert result.rows_added == {"customers": 2, "orders": 3}
    orders = _orders(ws)
    assert orders["A1"]["gross_amount"] == pytest.approx(2 * 3.50 + 8.00)
    assert orders["A2"]["gross_amount"] == pytest.approx(4 * 3.50)
    assert orders["A3"]["gross_amount"] == 0.0            # no items: coalesce(…, 0)
    # c1 and c3 are the same person
    assert orders["A1"]["customer_id"] == orders["A3"]["customer_id"] == "P-ANN"
    assert orders["A2"]["customer_id"] == "P-BEN"


def test_a_joined_file_with_repeated_keys_needs_an_aggregate(ws, tmp_path):
    for name, text in (("orders.csv", ORDERS), ("items.csv", ITEMS), ("people.csv", PEOPLE)):
        _write(tmp_path, name, text)
    text = JOINED.replace('aggregate = { goods = "sum(qty * price)", lines = "count()" }\n', "")
    text = text.replace("coalesce(items.goods, 0)", "number(items.price)")
    mapping = _write(tmp_path, "shop.toml", text)
    with pytest.raises(MappingError) as info:
        ingest_mapping(ws, mapping)
    # items.csv has A1 on two rows; [[source.join]] of items is on line 6
    assert info.value.message.startswith("items.csv: key 'A1' is on 2 rows")
    assert "shop.toml source[1].join[1], line 6" in info.value.message
    assert "aggregate" in info.value.hint
    assert ws.store.row_count("orders") == 0


def test_a_changed_joined_file_loads_the_source_again(ws, tmp_path):
    for name, text in (("orders.csv", ORDERS), ("items.csv", ITEMS), ("people.csv", PEOPLE)):
        _write(tmp_path, name, text)
    mapping = _write(tmp_path, "shop.toml", JOINED)
    ingest_mapping(ws, mapping)
    [again] = ingest_mapping(ws, mapping)
    assert again.skipped
    _write(tmp_path, "items.csv", ITEMS + "A3,CUP,1,8.00\n")
    [changed] = ingest_mapping(ws, mapping)
    assert not changed.skipped


def test_computed_columns_build_ids_amounts_and_date_parts(ws, tmp_path):
    # a till export: no order id (it is date + store + receipt), a line total, not a price
    _write(tmp_path, "till.csv",
           "Datum;Filiale;Bon;Artikel;Menge;Summe;Art\n"
           "05.03.2024 09:15;B01;17;Kaffee;2;5,00;V\n"
           "05.03.2024 09:15;B01;17;Kuchen;1;3,20;V\n"
           "06.03.2024 18:02;M02;4;Kaffee;3;7,50;R\n")
    mapping = _write(tmp_path, "till.toml", '''
decimal = ","

[[source]]
file = "till.csv"
table = "order_lines"
delimiter = ";"

[source.columns]
ordered_at = "Datum"
product_id = "Artikel"
quantity = "Menge"
store_id = "Filiale"
status = "kind"

[source.compute]
order_id = "concat(strftime(date(Datum, '%d.%m.%Y %H:%M'), '%Y%m%d'), '-', Filiale, '-', Bon)"
unit_price = "Summe / Menge"
kind = "map(Art, {'V': 'completed', 'R': 'refunded'}, 'pending')"
channel = "concat('pos-', lower(Filiale))"
campaign_id = """concat('w', year(date(Datum, '%d.%m.%Y %H:%M')), '-',
                      month(date(Datum, '%d.%m.%Y %H:%M')))"""

[source.dates]
ordered_at = "%d.%m.%Y %H:%M"
''')
    ingest_mapping(ws, mapping)
    orders = _orders(ws)
    assert set(orders) == {"20240305-B01-17", "20240306-M02-4"}
    first = orders["20240305-B01-17"]
    assert first["gross_amount"] == pytest.approx(5.00 + 3.20)  # 2 × 2.50 + 1 × 3.20
    assert (first["status"], first["channel"], first["campaign_id"]) == (
        "completed", "pos-b01", "w2024-3")
    assert orders["20240306-M02-4"]["status"] == "refunded"
    items = ws.store.table("order_items").execute()
    assert sorted(items.unit_price.round(2)) == [2.50, 2.50, 3.20]


def test_a_filter_drops_exposures_whose_page_disagrees_with_their_arm(ws, tmp_path):
    _write(tmp_path, "exposures.csv",
           "user,test,arm,page,seen\n"
           "u1,checkout-2024,A,/checkout/a,2024-06-01 10:00:00\n"
           "u2,checkout-2024,B,/checkout/b,2024-06-01 10:05:00\n"
           "u3,checkout-2024,B,/checkout/a,2024-06-01 10:07:00\n"
           "u4,checkout-2024,A,/checkout/b,2024-06-01 10:09:00\n"
           "u5,checkout-2024,A,/checkout/a,2024-06-01 10:11:00\n")
    mapping = _write(tmp_path, "ab.toml", '''
[[source]]
file = "exposures.csv"
table = "experiments"
filter = "page == concat('/checkout/', lower(arm))"

[source.columns]
experiment_id = "test"
unit_id = "user"
variant = "arm"
assigned_at = "seen"
''')
    [result] = ingest_mapping(ws, mapping)
    assert result.rows_added == {"experiments": 3}  # u3 and u4 saw the other arm's page
    kept = ws.store.table("experiments").execute()
    assert sorted(kept.unit_id) == ["u1", "u2", "u5"]
    assert any("2 row(s) left out by the filter" in n for n in result.report.notes)


def test_per_source_options_of_a_joined_file(ws, tmp_path):
    # the joined file: GBK, ';'-separated, a title line above the header, decimal commas
    _write(tmp_path, "orders.csv", "单号,时间,状态\nX1,2024-07-01 08:00:00,成功\n"
           "X2,2024-07-02 09:00:00,成功\n")
    _write(tmp_path, "明细.csv", "导出时间 2024-07-03\n单号;金额\nX1;1.234,50\nX2;10,00\nX2;0,50\n",
           encoding="gbk")
    mapping = _write(tmp_path, "cn.toml", '''
decimal = ","

[[source]]
file = "orders.csv"
table = "orders"

[[source.join]]
name = "lines"
file = "明细.csv"
encoding = "gbk"
delimiter = ";"
skip_rows = 1
on = "单号"
aggregate = { total = "sum(金额)" }

[source.columns]
order_id = "单号"
ordered_at = "时间"
status = "状态"
gross_amount = "lines.total"

[source.values.status]
"成功" = "completed"

[source.constants]
channel = "shop"
''')
    ingest_mapping(ws, mapping)
    orders = _orders(ws)
    # 1.234,50 is 1234.50; the summed number is not re-read as text with decimal commas
    assert orders["X1"]["gross_amount"] == pytest.approx(1234.50)
    assert orders["X2"]["gross_amount"] == pytest.approx(10.00 + 0.50)


# -- refused mappings: the file, the mapping line and the reason -------------------------------

BASE = '''[[source]]
file = "orders.csv"
table = "orders"
columns = { order_id = "id", ordered_at = "day", status = "state" }
constants = { channel = "web" }
'''


@pytest.mark.parametrize(
    ("extra", "message", "line"),
    [
        ('[source.compute]\ngross_amount = "concatt(1)"\n',
         "source[1].compute.gross_amount: unknown function concatt(); did you mean concat()", 7),
        ('[source.compute]\ngross_amount = "sum(items.total)"\n',
         "source[1].compute.gross_amount: sum() sums rows: use it in a join's aggregate", 7),
        ('[source.compute]\ngross_amount = "1 +"\n',
         "source[1].compute.gross_amount: not an expression", 7),
        ('filter = "__import__(\'os\')"\n', "source[1].filter: unknown function __import__()", 6),
        ('filter = "day.upper()"\n', "source[1].filter: only plain function calls", 6),
        ('[source.compute]\nstatus = "\'completed\'"\n',
         "source[1].compute.status: 'status' is both mapped and computed", 7),
        (('[[source.join]]\nname = "items"\nfile = "items.csv"\non = "id"\n'
          'aggregate = { t = "total" }\nhow = "outer"\n'),
         "source[1].join[1].how:", 11),
        (('[[source.join]]\nname = "items"\nfile = "items.csv"\non = "id"\n'
          'aggregate = { t = "sum(x" }\n'),
         "source[1].join[1].aggregate.t: not an expression", 10),
        ('[[source.join]]\nname = "items"\nfile = "items.csv"\non = "id"\nkey = "id"\n',
         "source[1].join[1].key: unknown key 'key'", 10),
    ],
)
def test_bad_joins_computes_and_filters_name_key_and_line(tmp_path, extra, message, line):
    path = _write(tmp_path, "bad.toml", BASE + extra)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert message in info.value.message
    assert info.value.message.startswith("bad.toml: ")
    assert info.value.message.endswith(f"(line {line})")
    if "unknown key" in message:
        assert "aggregate" in info.value.hint  # the keys a [[source.join]] accepts


def test_unknown_column_in_an_expression_names_file_column_and_line(ws, tmp_path):
    _write(tmp_path, "orders.csv", "id,day,state,Total\nA1,2024-05-01,completed,9.5\n")
    path = _write(tmp_path, "shop.toml", BASE + '[source.compute]\ngross_amount = "Totl * 1"\n')
    with pytest.raises(MappingError) as info:
        ingest_mapping(ws, path)
    assert info.value.message == (
        "orders.csv: no column 'Totl'; did you mean 'Total'? (columns: id, day, state, Total) "
        "(in shop.toml source[1].compute.gross_amount, line 7)")


def test_a_missing_join_column_and_file_are_named(ws, tmp_path):
    _write(tmp_path, "orders.csv", "id,day,state\nA1,2024-05-01,completed\n")
    _write(tmp_path, "items.csv", "order,amount\nA1,3\n")
    join = ('[[source.join]]\nname = "items"\nfile = "items.csv"\non = { id = "order_no" }\n'
            'aggregate = { t = "sum(amount)" }\n[source.compute]\ngross_amount = "items.t"\n')
    path = _write(tmp_path, "shop.toml", BASE + join)
    with pytest.raises(MappingError) as info:
        ingest_mapping(ws, path)
    assert info.value.message == ("items.csv: column 'order_no' not found (joined on in "
                                  "shop.toml source[1].join[1].on, line 9)")
    assert "order, amount" in info.value.hint
    path = _write(tmp_path, "shop.toml", BASE + join.replace('"items.csv"', '"itms.csv"')
                  .replace('"order_no"', '"order"'))
    with pytest.raises(MappingError, match=r"shop.toml: source\[1\]\.join\[1\]\.file: no file "
                                           r"matches 'itms.csv' .*\(line 8\)"):
        ingest_mapping(ws, path)
    assert ws.store.row_count("orders") == 0


def test_mapping_lines_follow_tables_arrays_and_inline_tables():
    text = ('name = "x"\n'                                  # 1
            '[[source]]\n'                                  # 2
            'file = "a.csv"\n'                              # 3
            'columns = { order_id = "Id", "订单" = "B" }\n'  # 4
            '[[source.join]]\n'                             # 5
            'name = "items"\n'                              # 6
            '[source.join.aggregate]\n'                     # 7
            'total = "sum(x)"\n'                            # 8
            '[[source]]\n'                                  # 9
            '[source.values.status]\n'                      # 10
            '"交易成功" = "completed"\n'                     # 11
            '[[source.join]]\n')                            # 12
    lines = key_lines(text)
    assert lines["source[1].columns.order_id"] == 4
    assert lines["source[1].columns.订单"] == 4
    assert lines["source[1].join[1].name"] == 6
    assert lines["source[1].join[1].aggregate.total"] == 8
    assert lines["source[2].values.status.交易成功"] == 11
    assert lines["source[2].join[1]"] == 12


def test_expressions_compile_to_engine_expressions():
    import ibis

    t = ibis.memtable({"q": ["2", "", "3"], "p": ["1,5", "2", "x"], "s": ["a", "b", None]})
    names = Names(t)
    out = t.select(
        v=compile_expression("q * p", names, decimal=","),
        w=compile_expression("'big' if number(q) >= 3 else 'small'", names),
        z=compile_expression("s in ('a', 'c')", names),
        e=compile_expression("empty(q)", names),
        d=compile_expression("q / 0", names),
    ).to_pyarrow().to_pydict()
    assert out["v"] == [3.0, None, None]     # 2 × 1,5; empty and 'x' are no numbers
    assert out["w"] == ["small", "small", "big"]
    assert out["z"] == [True, False, None]
    assert out["e"] == [False, True, False]
    assert out["d"] == [None, None, None]    # no division by zero
    with pytest.raises(ExpressionError, match="takes 2 argument"):
        compile_expression("left(q)", names)
    with pytest.raises(ExpressionError, match="ListComp is not allowed"):
        check_syntax("[x for x in q]")
    with pytest.raises(ExpressionError, match="only plain function calls"):
        check_syntax("(lambda: 1)()")


def test_an_inner_join_drops_rows_without_a_match_and_says_so(ws, tmp_path):
    for name, text in (("orders.csv", ORDERS), ("items.csv", ITEMS), ("people.csv", PEOPLE)):
        _write(tmp_path, name, text)
    text = JOINED.replace('on = { id = "order" }', 'on = { id = "order" }\nhow = "inner"')
    [result] = ingest_mapping(ws, _write(tmp_path, "shop.toml", text))
    assert set(_orders(ws)) == {"A1", "A2"}  # A3 has no items
    assert "1 row(s) without a match in an inner join left out" in result.report.notes
