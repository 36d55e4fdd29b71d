"""Prices of instance types: the bundled dated snapshot (offline) and, on AWS, the Price List API."""

from rightsizing.models.price import PriceQuote
from rightsizing.pricing.snapshot import SnapshotPrices

__all__ = ["PriceQuote", "SnapshotPrices"]
