"""The bundled, dated price table used offline (and as the fallback when the Price List API is unreachable)."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from rightsizing.exceptions import AmbiguousPrice, PriceNotFound
from rightsizing.models.price import PriceQuote
from rightsizing.models.serverless import parse_serverless_label, serverless_quote

SNAPSHOT_FILE = "sagemaker-hosting-prices.csv"
SNAPSHOT_LABEL = "bundled AWS Price List snapshot (2026, on-demand, Hosting)"
SERVERLESS_FILE = "sagemaker-serverless-prices.csv"
SERVERLESS_LABEL = "bundled SageMaker pricing page snapshot (2026, Serverless Inference on-demand)"


@cache
def _rows(name: str = SNAPSHOT_FILE) -> tuple[dict[str, str], ...]:
    text = resources.files("rightsizing.pricing").joinpath("data", name).read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(csv.DictReader(lines))


def serverless_snapshot_quote(label: str, region: str) -> PriceQuote:
    """A serverless candidate's per-use prices from the bundled table (its memory size, in ``region``)."""
    parsed = parse_serverless_label(label)
    if parsed is None:
        raise PriceNotFound(f"{label} is not a serverless candidate")
    rows = [r for r in _rows(SERVERLESS_FILE) if int(r["memory_mb"]) == parsed.memory_mb and r["region"] == region]
    if not rows:
        raise PriceNotFound(f"no bundled serverless price for {parsed.memory_mb} MB in {region} ({SERVERLESS_LABEL})")
    if len(rows) > 1:
        raise AmbiguousPrice(f"bundled snapshot has {len(rows)} serverless prices for {parsed.memory_mb} MB")
    row = rows[0]
    return serverless_quote(
        label, region, float(row["usd_per_gb_second"]), float(row["usd_per_gb_processed"]), SERVERLESS_LABEL
    )


class SnapshotPrices:
    """PriceSource over the bundled CSV."""

    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        if parse_serverless_label(instance_type) is not None:
            return serverless_snapshot_quote(instance_type, region)
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
