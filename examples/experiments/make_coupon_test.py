"""Write examples/experiments/coupon_test/: a logged A/B test for the README tour.

The test of coupon_test.json as a shop would log it: 3,000 customers assigned to control
or treatment over two weeks from 2024-03-01 (``experiments``), their orders in the four
weeks before (for CUPED) and during the test (``orders``), and the customers. Drawn by
:func:`shopscope.synth.experiments.experiment_tables` with a true +10 % lift in the
purchase rate, so ``shopscope experiment analyze`` has a known answer to find.

Run from the top of the repository: ``python examples/experiments/make_coupon_test.py``.
"""

from pathlib import Path

from shopscope.synth.experiments import experiment_tables

OUT = Path(__file__).with_name("coupon_test")

if __name__ == "__main__":
    sim = experiment_tables(3000, start="2024-03-01", days=14, lift_rate=0.1,
                            experiment_id="coupon_test", seed=7)
    OUT.mkdir(exist_ok=True)
    for name in ("experiments", "orders", "customers"):
        getattr(sim, name).to_parquet(OUT / f"{name}.parquet", index=False)
    print(f"wrote {OUT}: {len(sim.experiments):,} assignments, {len(sim.orders):,} orders")
