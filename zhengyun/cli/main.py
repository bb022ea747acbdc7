"""The `zhengyun` command: wires every domain's sub-commands (docs/reference.md#command-line)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Literal

import typer

from core.i18n import set_language
from zhengyun.cli.audit import audit_app
from zhengyun.cli.bills import bills_app
from zhengyun.cli.contracts import contracts_app
from zhengyun.cli.dashboard import dashboard
from zhengyun.cli.db import db_app
from zhengyun.cli.demo import demo
from zhengyun.cli.infra import infra_app
from zhengyun.cli.ratings import ratings_app
from zhengyun.cli.serve import serve
from zhengyun.cli.sla import sla_app
from zhengyun.cli.support import run_app
from zhengyun.cli.tenants import tenants_app
from zhengyun.cli.tickets import tickets_app
from zhengyun.cli.usage import usage_app
from zhengyun.cli.users import users_app
from zhengyun.stopping import end_if_stopped

app = typer.Typer(
    name="zhengyun",
    help="政云 zhengyun — the province's 1+N+M government cloud: registry, metering, SLA, billing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    lang: Annotated[Literal["zh", "en"] | None, typer.Option("--lang", help="zh (default) or en / 界面语言")] = None,
) -> None:
    if lang:
        set_language(lang)


app.command("serve")(serve)
app.command("dashboard")(dashboard)
app.command("demo")(demo)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(contracts_app, name="contracts")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(usage_app, name="usage")
app.add_typer(sla_app, name="sla")
app.add_typer(ratings_app, name="ratings")
app.add_typer(tickets_app, name="tickets")
app.add_typer(bills_app, name="bills")
app.add_typer(infra_app, name="infra")


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point: the exit code of the command line (never a traceback, docs/reference.md#command-line)."""
    code = run_app(app, sys.argv[1:] if argv is None else argv)
    if argv is None:  # the `zhengyun` process itself: stopped by a signal, it ends now (`zhengyun.stopping`)
        end_if_stopped(code)
    return code
