"""The bundled price snapshot: dated, exact, and loud about what it does not know."""

from __future__ import annotations

import pytest

from rightsizing.exceptions import PriceNotFound
from rightsizing.pricing import SnapshotPrices


def test_snapshot_prices_a_known_instance_with_its_source() -> None:
    quote = SnapshotPrices().hourly_price("ml.g4dn.xlarge", "us-east-1")
    assert quote.usd_per_hour == pytest.approx(0.736)
    assert "2026" in quote.source and "snapshot" in quote.source


def test_snapshot_refuses_unknown_instance_or_region() -> None:
    with pytest.raises(PriceNotFound):
        SnapshotPrices().hourly_price("ml.c5.large", "eu-west-1")
    with pytest.raises(PriceNotFound):
        SnapshotPrices().hourly_price("ml.zz9.large", "us-east-1")
