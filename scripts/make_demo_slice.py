"""Cut the demo slice of UCI Online Retail that ships in the package.

Keeps every line of the invoices of one customer in six (chosen by a hash of the customer
id), and one guest invoice in six (by a hash of the invoice number), byte for byte, with the
original header. Run:

    python scripts/make_demo_slice.py ../shared/data/online_retail/online_retail.csv.gz
"""

import csv
import gzip
import hashlib
import io
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/shopscope/samples/online_retail_sample.csv.gz"


def keep(key: str) -> bool:
    # a sampling hash, not security; md5 keeps the shipped slice reproducible
    return int(hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()[:8], 16) % 6 == 0


def main(src: str) -> None:
    with gzip.open(src, "rt", encoding="utf-8", newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    kept = [header]
    for line in body:
        row = next(csv.reader(io.StringIO(line)))
        customer = row[6].strip()
        if (customer and keep(customer)) or (not customer and keep(row[0])):
            kept.append(line)
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:
        out.write("".join(kept).encode("utf-8"))
    print(f"{len(kept) - 1} lines -> {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
