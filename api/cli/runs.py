"""``hotspots runs`` and ``hotspots share``: stored runs and share links from the command line.

Registered on the main app by :mod:`api.cli`. Runs are what ``hotspots analyse``,
``POST /analyses`` and the demo store; a share link made here is the same as one
made with ``POST /share-links`` (:mod:`api.usecases.share_links`), signed with
``HOTSPOTS_SECRET_KEY`` or, for the embedded store, the key kept beside it
(:mod:`api.cli.secret`, which ``hotspots serve`` uses too).
"""

from __future__ import annotations

import re
from contextlib import closing
from typing import Annotated

import typer
from rich.table import Table

from .common import JsonOpt, StoreOpt, cli_settings, open_cli_store
from .output import EXIT_NOT_FOUND, EXIT_USAGE, fail, out, print_json, reporting_errors
from .secret import service_secret

runs_app = typer.Typer(help="Stored runs (analyses): list, show, delete.", no_args_is_help=False)


@runs_app.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    method: Annotated[str | None, typer.Option(help="Only this method.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List stored runs, newest first (``hotspots runs show RUN`` for one)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..disclosure import Disclosure
    from ..usecases.run_counts import run_counts

    with reporting_errors(as_json), closing(open_cli_store(store)) as st:
        runs = st.list_runs(method, limit=limit)
        rows = [(r, run_counts(st, r, Disclosure(role="analyst"))) for r in runs]
    if as_json:
        print_json(
            [
                {
                    "run_id": r.run_id,
                    "method": r.method,
                    "created_at": r.created_at.isoformat(),
                    "n_incidents": n,
                    "hotspots": h,
                    "categories": (r.provenance or {}).get("categories"),
                }
                for r, (n, h) in rows
            ]
        )
        return
    table = Table(title=f"{len(rows)} runs, newest first", title_justify="left")
    for col in ("run", "method", "categories", "incidents", "hotspots", "made"):
        table.add_column(col, justify="right" if col in ("incidents", "hotspots") else "left")
    for r, (n, h) in rows:
        cats = ", ".join((r.provenance or {}).get("categories") or []) or "all"
        table.add_row(
            r.run_id, r.method, cats, f"{n or 0:,}", f"{h:,}", f"{r.created_at:%Y-%m-%d %H:%M}"
        )
    out.print(table)


@runs_app.command("show")
def runs_show(run_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """A run's provenance and its ranked hotspots (a plan: its sites in visiting order)."""
    from ..disclosure import Disclosure
    from .output import print_ranked

    with reporting_errors(as_json), closing(open_cli_store(store)) as st:
        run = st.get_run(run_id)
    if run is None:
        fail(f"no run {run_id!r}; see `hotspots runs`", EXIT_NOT_FOUND, as_json)
    doc = Disclosure(role="analyst").run_view(run.result)
    if as_json:
        print_json({"run_id": run.run_id, "request": run.params.get("request"), **doc})
        return
    if run.method == "plan":  # a day-of-action plan: its sites in visiting order
        from ..usecases.plan_runs import plan_document
        from .plan import print_plan

        print_plan(plan_document(doc))
        return
    if run.method == "backtest":
        from .backtest import print_backtest

        print_backtest(doc["document"], title=f"Backtest {run.run_id}")
        return
    if run.method == "evaluation":
        from .interventions import print_evaluation

        print_evaluation(doc["document"])
        return
    print_ranked(doc, 10)


@runs_app.command("delete")
def runs_delete(run_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a stored run (its share links stop working)."""
    with reporting_errors(as_json), closing(open_cli_store(store)) as st:
        found = st.delete_run(run_id)
    if not found:
        fail(f"no run {run_id!r}; see `hotspots runs`", EXIT_NOT_FOUND, as_json)
    if as_json:
        print_json({"deleted": run_id})
    else:
        out.print(f"Deleted {run_id}.")


def _days(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(d|w)?\s*", text)
    if not m:
        raise typer.BadParameter(f"expected days such as 14d or 2w; received {text!r}")
    return int(m.group(1)) * (7 if m.group(2) == "w" else 1)


def share_cmd(
    what: Annotated[str, typer.Argument(help="A run id, or `list`, or `revoke`.")],
    link_id: Annotated[str | None, typer.Argument(help="With `revoke`: the link id.")] = None,
    role: Annotated[str, typer.Option(help="partner or public.")] = "partner",
    expires: Annotated[str, typer.Option(help="How long the link works, e.g. 14d or 2w.")] = "14d",
    title: Annotated[str, typer.Option(help="The map's title.")] = "Hotspots",
    categories: Annotated[
        str | None, typer.Option(help="Show only these categories (comma-separated slugs).")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Only from this month.")] = None,
    to: Annotated[str | None, typer.Option(help="Only to this month (inclusive).")] = None,
    area: Annotated[str | None, typer.Option(help="Only hotspots touching ward:CODE.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The service's public URL (default HOTSPOTS_BASE_URL).")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Share a run's map with a neighbourhood team: `hotspots share RUN` prints a link (no
    login); `hotspots share list`; `hotspots share revoke LINK_ID`."""
    from geodata.errors import NotFound

    from ..security import now_utc

    settings = cli_settings(store)
    with reporting_errors(as_json), closing(open_cli_store(store, settings)) as st:
        if what == "list":
            links = st.list_share_links()
            _print_links(links, as_json)
            return
        if what == "revoke":
            if not link_id or not st.revoke_share_link(link_id, now_utc()):
                fail(
                    f"no live share link {link_id!r}; see `hotspots share list`",
                    EXIT_NOT_FOUND,
                    as_json,
                )
            print_json({"revoked": link_id}) if as_json else out.print(f"Revoked {link_id}.")
            return
        from ..usecases.share_links import (  # plans and maps: only here
            InvalidShareLink,
            create_link,
        )

        try:
            secret = service_secret(settings).value
            days = _days(expires)
        except (LookupError, typer.BadParameter) as exc:
            fail(str(exc), EXIT_USAGE, as_json)
        base = base_url or settings.api.base_url or "http://127.0.0.1:8000"
        filters = {
            "categories": [c.strip() for c in categories.split(",")] if categories else None,
            "from": from_,
            "to": to,
            "area": area,
        }
        try:
            link, url = create_link(
                st,
                what,
                role=role,
                expires_in_days=days,
                max_days=settings.api.share_link_max_days,
                secret=secret,
                base_url=base,
                created_by="hotspots share",
                filters=filters,
                title=title,
            )
        except NotFound as exc:
            fail(exc.message, EXIT_NOT_FOUND, as_json)
        except InvalidShareLink as exc:
            fail(exc.message, EXIT_USAGE, as_json)
    if as_json:
        print_json(
            {
                "link_id": link.link_id,
                "run_id": link.run_id,
                "role": link.role,
                "expires_at": link.expires_at.isoformat(),
                "url": url,
            }
        )
        return
    out.print(
        f"{url}\n[dim]{link.role} view of {link.run_id}, until {link.expires_at:%d %B %Y}; "
        f"revoke with `hotspots share revoke {link.link_id}`[/]"
    )


def _print_links(links, as_json: bool) -> None:
    if as_json:
        print_json(
            [
                {
                    "link_id": k.link_id,
                    "run_id": k.run_id,
                    "role": k.role,
                    "created_by": k.created_by,
                    "expires_at": k.expires_at.isoformat(),
                    "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                }
                for k in links
            ]
        )
        return
    table = Table(title=f"{len(links)} share links", title_justify="left")
    for col in ("link", "run", "role", "by", "expires", "revoked"):
        table.add_column(col)
    for k in links:
        table.add_row(
            k.link_id,
            k.run_id,
            k.role,
            k.created_by,
            f"{k.expires_at:%Y-%m-%d}",
            f"{k.revoked_at:%Y-%m-%d}" if k.revoked_at else "",
        )
    out.print(table)
