"""``rightsize prices TYPE...``: look up on-demand hosting prices and say which source priced each."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rightsizing.exceptions import RightsizingError
from rightsizing.ports import PriceSource
from rightsizing.pricing.snapshot import SnapshotPrices

console = Console(highlight=False)


def price_source(offline: bool) -> PriceSource:
    if offline:
        return SnapshotPrices()
    from rightsizing.adapters.pricing_api import price_list_with_fallback

    return price_list_with_fallback()


def prices_command(
    instance_types: Annotated[list[str], typer.Argument(help="e.g. ml.c5.xlarge ml.g4dn.xlarge")],
    region: Annotated[str, typer.Option("--region", "-r", help="Region whose prices to look up.")] = "us-east-1",
    offline: Annotated[bool, typer.Option("--offline", help="Use the bundled snapshot only; no AWS call.")] = False,
) -> None:
    """On-demand USD/hour of real-time hosting: the Price List API, else the bundled dated snapshot."""
    source = price_source(offline)
    table = Table(title=f"SageMaker real-time hosting, on-demand, {region}")
    for column in ("instance type", "USD/hour", "source"):
        table.add_column(column, justify="right" if column == "USD/hour" else "left")
    failed = 0
    for instance_type in instance_types:
        try:
            quote = source.hourly_price(instance_type, region)
        except RightsizingError as e:
            failed += 1
            table.add_row(instance_type, "—", f"[red]{e}[/]")
            continue
        table.add_row(instance_type, f"{quote.usd_per_hour:.4f}", quote.source)
    console.print(table)
    if failed:
        raise typer.Exit(1)
