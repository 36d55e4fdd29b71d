"""The bundled, dated price table used offline (and as the fallback when the Price List API is unreachable)."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from rightsizing.exceptions import AmbiguousPrice, PriceNotFound
from rightsizing.models.price import PriceQuote

SNAPSHOT_FILE = "sagemaker-hosting-prices.csv"
SNAPSHOT_LABEL = "bundled AWS Price List snapshot (2026, on-demand, Hosting)"


@cache
def _rows() -> tuple[dict[str, str], ...]:
    text = resources.files("rightsizing.pricing").joinpath("data", SNAPSHOT_FILE).read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(csv.DictReader(lines))


class SnapshotPrices:
    """PriceSource over the bundled CSV."""

    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        matches = {
            float(row["usd_per_hour"])
            for row in _rows()
            if row["instance_type"] == instance_type and row["region"] == region and row["component"] == "Hosting"
        }
        if not matches:
            raise PriceNotFound(f"no bundled price for {instance_type} in {region} ({SNAPSHOT_LABEL})")
        if len(matches) > 1:
            raise AmbiguousPrice(f"bundled snapshot has {len(matches)} prices for {instance_type} in {region}")
        return PriceQuote(instance_type=instance_type, region=region, usd_per_hour=matches.pop(), source=SNAPSHOT_LABEL)
