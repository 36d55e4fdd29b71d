"""``rightsize prices TYPE...``: look up on-demand hosting prices and say which source priced each."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rightsizing.exceptions import RightsizingError
from rightsizing.ports import PriceSource
from rightsizing.pricing.snapshot import SnapshotPrices
from rightsizing_cli.emit import Output, OutputFormat, OutputOption
from rightsizing_cli.exit_codes import ExitCode


def price_source(offline: bool) -> PriceSource:
    if offline:
        return SnapshotPrices()
    from rightsizing.adapters.pricing_api import price_list_with_fallback

    return price_list_with_fallback()


def prices_command(
    instance_types: Annotated[list[str], typer.Argument(help="e.g. ml.c5.xlarge ml.g4dn.xlarge")],
    region: Annotated[str, typer.Option("--region", "-r", help="Region whose prices to look up.")] = "us-east-1",
    offline: Annotated[bool, typer.Option("--offline", help="Use the bundled snapshot only; no AWS call.")] = False,
    output: OutputOption = OutputFormat.text,
) -> None:
    """On-demand USD/hour of real-time hosting: the Price List API, else the bundled dated snapshot."""
    out = Output(output)
    source = price_source(offline)
    rows: list[dict[str, object]] = []
    table = Table(title=f"SageMaker real-time hosting, on-demand, {region}")
    for column in ("instance type", "USD/hour", "source"):
        table.add_column(column, justify="right" if column == "USD/hour" else "left")
    failed = 0
    for instance_type in instance_types:
        try:
            quote = source.hourly_price(instance_type, region)
        except RightsizingError as e:
            failed += 1
            table.add_row(instance_type, "—", f"[red]{escape(str(e))}[/]")
            rows.append({"instance_type": instance_type, "usd_per_hour": None, "error": str(e)})
            continue
        table.add_row(instance_type, f"{quote.usd_per_hour:.4f}", escape(quote.source))
        rows.append({"instance_type": instance_type, "usd_per_hour": quote.usd_per_hour, "source": quote.source})
    out.document({"region": region, "prices": rows})
    if not out.is_json:
        out.console.print(table)
    if failed:
        raise typer.Exit(ExitCode.FAILED)
