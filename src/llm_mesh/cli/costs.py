"""``mesh costs``: the cost ledger grouped and filtered, as a table or CSV (for re-billing)."""

from __future__ import annotations

import sys
import time

import click

from llm_mesh.cli.paths import data_option
from llm_mesh.cli.progress import Progress, progress_option
from llm_mesh.cost.ledger import CostQuery, parse_tag_filters, parse_time, records_csv, run_query, to_csv


@click.command("costs")
@click.option("--since", default=None, help="epoch seconds or ISO date (default: start of this UTC month)")
@click.option("--until", default=None, help="exclusive; an ISO date means the end of that day (default: now)")
@click.option("--app", "app_name", default=None)
@click.option("--team", default=None)
@click.option("--project", default=None)
@click.option("--route", default=None)
@click.option("--provider", default=None)
@click.option("--model", default=None)
@click.option("--user", default=None)
@click.option("--tag", "tags", multiple=True, help="key=value (repeatable)")
@click.option("--group-by", default=None,
              help="comma list of app, team, project, user, route, provider, model, endpoint, day, month, tag:<key>; "
                   "'' for records (default: app,model; with --forecast: app,team)")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout (grouped rows, or records with --group-by '')")
@click.option("--forecast", is_flag=True,
              help="project month-end spend per group: month-to-date spend + daily run-rate x days left in the UTC "
                   "month, the run-rate being the spend over the last --days days / --days (ignores --since/--until)")
@click.option("--days", "lookback", default=7, show_default=True, type=click.IntRange(1, 90),
              help="run-rate window of --forecast, in days ending now")
@progress_option
@data_option
@click.option("--aws", is_flag=True, help="read the DynamoDB ledger (table from MESH_TABLE_LEDGER) instead")
def costs(since, until, app_name, team, project, route, provider, model, user, tags, group_by, as_csv, forecast,  # type: ignore[no-untyped-def]
          lookback, show_progress, data_dir, aws) -> None:
    """Costs by app, team, model... from the ledger (exact decimal USD), or (--forecast) projected to month end."""
    from llm_mesh.http.costs import month_start

    if forecast:
        _forecast(group_by if group_by is not None else "app,team", lookback, app_name, as_csv, data_dir, aws)
        return
    group_by = "app,model" if group_by is None else group_by
    now = time.time()
    try:
        query = CostQuery(
            since=parse_time(since, month_start(now)), until=parse_time(until, now + 1, end_of_day=True),
            app=app_name, team=team, project=project, route=route, provider=provider, model=model, user=user,
            tags=parse_tag_filters(tags), group_by=tuple(g for g in group_by.split(",") if g),
        )
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    stores = _open(data_dir, aws)
    try:
        if getattr(stores, "ledger", None) is None:
            click.echo("this store has no cost ledger (set MESH_TABLE_LEDGER)", err=True)
            sys.exit(2)
        progress = Progress(show_progress)
        records, groups = run_query(_Counted(stores.ledger, progress), query)
        progress.finish(f"ledger: {len(records)} matching records" + (f", {len(groups)} groups" if query.group_by else ""))
    finally:
        stores.close()
    if as_csv:
        click.echo(to_csv(groups) if query.group_by else records_csv(records), nl=False)
        return
    from llm_mesh.cli.common import _table

    if not query.group_by:
        _table(("REQUEST", "APP", "ROUTE", "MODEL", "TOKENS IN/OUT", "USD", "FLAGS"), [
            (r.request_id, r.app, r.route, r.model, f"{r.prompt_tokens}/{r.completion_tokens}", r.cost_usd,
             ",".join(f for f, on in (("cache", r.cache_hit), ("estimated", r.estimated)) if on))
            for r in records])
        return
    columns = [*query.group_by, "requests", "prompt_tokens", "completion_tokens", "cache_hits", "cost_usd", "avoided_usd"]
    _table(tuple(c.upper() for c in columns), [tuple(str(g.get(c, "")) for c in columns) for g in groups])


class _Counted:
    """The ledger store, its ``records()`` counted on the progress line as they are read."""

    def __init__(self, ledger, progress: Progress) -> None:  # type: ignore[no-untyped-def]
        self.ledger, self.progress = ledger, progress

    def records(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = self.ledger.records(*args, **kwargs)
        return self.progress.iterate("ledger: records", found, len(found) if hasattr(found, "__len__") else None)


def _forecast(group_by: str, lookback: int, app_name: str | None, as_csv: bool, data_dir: str, aws: bool) -> None:
    from llm_mesh.cli.common import _table
    from llm_mesh.cost.forecast import ForecastWindow, check_group_by, ledger_forecast

    try:
        names = check_group_by(g for g in group_by.split(",") if g)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    stores = _open(data_dir, aws)
    try:
        if getattr(stores, "ledger", None) is None:
            click.echo("this store has no cost ledger (set MESH_TABLE_LEDGER)", err=True)
            sys.exit(2)
        body = ledger_forecast(stores.ledger, ForecastWindow.at(time.time(), lookback), names, app=app_name)
    finally:
        stores.close()
    columns = [*names, "requests_this_month", "month_to_date_usd", "daily_rate_usd", "projected_usd"]
    if as_csv:
        click.echo(to_csv(body["groups"], columns), nl=False)
        return
    _table(tuple(c.upper() for c in columns), [tuple(str(g.get(c, "")) for c in columns) for g in body["groups"]])
    total = body["total"]
    click.echo(f"total {body['month']}: {total['month_to_date_usd']} so far, {total['projected_usd']} projected "
               f"({body['days_left']:.2f} days left)")
    click.echo(f"method: {body['method']}", err=True)


def _open(data_dir: str, aws: bool):  # type: ignore[no-untyped-def]
    if aws:
        from llm_mesh.stores.dynamodb import open_dynamodb_stores

        return open_dynamodb_stores()
    from pathlib import Path

    from llm_mesh.stores.sqlite import open_sqlite_stores

    return open_sqlite_stores(Path(data_dir) / "mesh.db")
