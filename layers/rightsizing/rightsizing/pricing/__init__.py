"""Prices of instance types: the bundled dated snapshot (offline) and, on AWS, the Price List API."""

from rightsizing.pricing.quote import PriceQuote
from rightsizing.pricing.snapshot import SnapshotPrices

__all__ = ["PriceQuote", "SnapshotPrices"]
