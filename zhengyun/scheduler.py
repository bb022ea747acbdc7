"""The scheduler of `zhengyun serve`: probes, collectors, the overdue-ticket check and the month's draft bills.

APScheduler 3 keeps the jobs in the platform's own database (its SQLAlchemy job store). However many
`serve` processes share that database, exactly one runs the jobs: the holder of the lease row
`scheduler_lease`, which it renews every third of the lease; when it stops renewing (killed, cut
off), another process takes the lease once it has expired and starts the jobs.

Every job is idempotent (probes run only when due, collectors derive event ids from the hour, a
bill run replaces drafts and never touches approved bills), runs as the platform itself through the
application layer, and is guarded: a failure is logged, counted and retried with a growing delay;
it never stops the server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from core.clock import Clock, utcnow
from core.db import get_engine
from core.periods import Period
from core.settings import get_settings
from sla.probes import Prober, network_prober
from sla.probing import ProbeRun, run_probes
from tenants.permissions import SYSTEM, Actor
from zhengyun import app

log = logging.getLogger("zhengyun.scheduler")

LEASE = "scheduler"
#: A failed job is tried again after 30 s, 60 s, 120 s, … at most this many times.
RETRIES = 5
RETRY_BASE_SECONDS = 30

JOB_SECONDS = Histogram("zhengyun_scheduler_job_duration_seconds", "Duration of scheduled jobs", ["job"])
JOB_FAILURES = Counter("zhengyun_scheduler_job_failures_total", "Scheduled jobs that raised", ["job"])
LEADER = Gauge("zhengyun_scheduler_leader", "1 when this process holds the scheduler lease and runs the jobs")
OVERDUE = Gauge("zhengyun_sla_tickets_overdue", "Open rectification tickets past their due time (daily check)")


# ---------------------------------------------------------------------------- the jobs


def run_probes_once(
    *,
    engine: Engine | None = None,
    vantage: str | None = None,
    prober: Prober = network_prober,
    actor: Actor = SYSTEM,
    now: Clock = utcnow,
    due_only: bool = False,
) -> ProbeRun:
    """Run every probe once (with `due_only`: those whose interval has passed) in its own unit of work:
    store the checks, open and close probe outages."""

    return app.run(
        lambda session, who: run_probes(session, actor=who, vantage=vantage, prober=prober, now=now, due_only=due_only),
        actor=actor,
        engine=engine,
    )


def probe_due() -> None:
    """Every probe whose interval has passed, once (docs/reference.md#sla)."""
    run_probes_once(engine=_engine(), due_only=True)


def collect_last_hour() -> None:
    """The last full hour of every cloud with an endpoint (docs/reference.md#usage-and-meters); one cloud failing does not stop the others."""
    from tenants.models import Cloud

    engine = _engine()
    with_endpoint = select(Cloud.id).where(col(Cloud.endpoint).is_not(None)).order_by(col(Cloud.id))
    clouds = app.run(lambda session, _a: list(session.exec(with_endpoint)), actor=SYSTEM, engine=engine)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    failed = []
    for cloud in clouds:
        try:
            app.run(_collector(cloud, hour), actor=SYSTEM, engine=engine)
        except Exception:  # logged per cloud; the job as a whole is retried below
            log.exception("collecting cloud %s for %s failed", cloud, hour.isoformat())
            failed.append(cloud)
    if failed:
        raise RuntimeError(f"collectors failed for {', '.join(failed)}")


def _collector(cloud: str, hour: datetime) -> Callable[[Session, Actor], object]:
    from metering.collectors import collect

    return lambda session, actor: collect(session, actor=actor, cloud_id=cloud, hour=hour)


def check_overdue_tickets() -> None:
    """Log and count the open tickets past their due time."""
    from sla.evaluation import list_tickets

    overdue = app.run(lambda s, a: list_tickets(s, actor=a, overdue=True), actor=SYSTEM, engine=_engine())
    OVERDUE.set(len(overdue))
    for ticket in overdue:
        log.warning("ticket %s of contract %s is overdue since %s", ticket.id, ticket.contract, ticket.due_at)


def run_last_months_bills() -> None:
    """Draft bills of the previous month, on day 1 at 02:00 province time (finance reviews and approves)."""
    from billing.service import run_bills

    engine = _engine()
    today = datetime.now(_province_zone(engine)).date()
    previous = Period.parse(f"{today.year}-{today.month:02d}").previous()
    app.run(lambda s, a: run_bills(s, actor=a, period=previous), actor=SYSTEM, engine=engine)


def fold_usage(engine: Engine | None = None) -> int:
    """Fold the usage events stored since the last fold into the rollups (`metering.rollup.fold`): reads
    are exact either way; folding every minute keeps the tail they add to the rollups small. Idempotent.
    The events folded. (`zhengyun demo` runs it too, on its own engine.)"""
    from metering.service import fold_usage as fold

    return app.run(lambda s, a: fold(s, actor=a), actor=SYSTEM, engine=engine or _engine()).folded


def _province_zone(engine: Engine) -> ZoneInfo:
    """The province's timezone; before any tenancy import, the default one (docs/reference.md#the-registry)."""
    from tenants.models import DEFAULT_TIMEZONE
    from tenants.service import province_zone

    with Session(engine) as session:
        return province_zone(session, before_import=DEFAULT_TIMEZONE)


JOBS: dict[str, Callable[[], object]] = {
    "probes": probe_due,
    "collectors": collect_last_hour,
    "overdue-tickets": check_overdue_tickets,
    "monthly-bills": run_last_months_bills,
    "usage-fold": fold_usage,
}


def run_job(name: str, attempt: int = 0) -> None:
    """Run one job, timed; on failure log it, count it and schedule a retry with a growing delay."""
    started = time.monotonic()
    try:
        JOBS[name]()
    except Exception:
        JOB_FAILURES.labels(job=name).inc()
        if attempt + 1 >= RETRIES:
            log.exception(
                "job %s failed (attempt %d of %d); it runs again at its next time", name, attempt + 1, RETRIES
            )
        else:
            delay = RETRY_BASE_SECONDS * 2**attempt
            log.exception("job %s failed (attempt %d of %d); retrying in %d s", name, attempt + 1, RETRIES, delay)
            _retry(name, attempt + 1, delay)
    finally:
        JOB_SECONDS.labels(job=name).observe(time.monotonic() - started)


# ---------------------------------------------------------------------------- leadership


_engine_override: Engine | None = None
_current: Leadership | None = None


def _engine() -> Engine:
    return _engine_override or get_engine()


def _retry(name: str, attempt: int, delay: float) -> None:
    scheduler = _current.scheduler if _current is not None else None
    if scheduler is not None and scheduler.running:
        scheduler.add_job(
            run_job,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            args=[name, attempt],
            id=f"retry-{name}",
            replace_existing=True,
            misfire_grace_time=3600,
        )


def holder_name() -> str:
    """This process, as the lease names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def try_lease(engine: Engine, holder: str, seconds: float, now_ms: int | None = None) -> bool:
    """Take or renew the lease; True when `holder` holds it afterwards."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO scheduler_lease (name, holder, expires_at_ms) VALUES (:name, :holder, :expires) "
                "ON CONFLICT (name) DO UPDATE SET holder = :holder, expires_at_ms = :expires "
                "WHERE scheduler_lease.holder = :holder OR scheduler_lease.expires_at_ms < :now"
            ),
            {"name": LEASE, "holder": holder, "expires": now_ms + int(seconds * 1000), "now": now_ms},
        )
        current = conn.execute(text("SELECT holder FROM scheduler_lease WHERE name = :name"), {"name": LEASE})
        return current.scalar_one() == holder


def release_lease(engine: Engine, holder: str) -> None:
    """Give the lease up at a clean shutdown, so another process need not wait for it to expire."""
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM scheduler_lease WHERE name = :name AND holder = :holder"),
            {"name": LEASE, "holder": holder},
        )


def new_scheduler(engine: Engine, zone: ZoneInfo) -> BackgroundScheduler:
    """The scheduler with its jobs, kept in the database (`scheduler_job`)."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="scheduler_job")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone=zone,
    )
    every = {"replace_existing": True}
    scheduler.add_job(run_job, "interval", seconds=10, args=["probes"], id="probes", **every)
    scheduler.add_job(run_job, "cron", minute=10, args=["collectors"], id="collectors", **every)
    scheduler.add_job(run_job, "cron", hour=9, minute=0, args=["overdue-tickets"], id="overdue-tickets", **every)
    scheduler.add_job(run_job, "cron", day=1, hour=2, minute=0, args=["monthly-bills"], id="monthly-bills", **every)
    scheduler.add_job(run_job, "interval", minutes=1, args=["usage-fold"], id="usage-fold", **every)
    return scheduler


class Leadership:
    """A thread that holds (or waits for) the lease and runs the scheduler while it holds it."""

    def __init__(self, engine: Engine | None = None, *, seconds: float | None = None, holder: str | None = None):
        self.engine = engine or get_engine()
        self.seconds = seconds or get_settings().lease_seconds
        self.holder = holder or holder_name()
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="zhengyun-scheduler-lease", daemon=True)

    def start(self) -> None:
        """Start competing for the lease."""
        global _current, _engine_override
        _current, _engine_override = self, self.engine
        self._thread.start()

    def stop(self, grace: float = 1.0) -> None:
        """Stop the jobs and give the lease up, within about `grace` seconds whatever the database does
        (docs/reference.md#command-line): a renewal stuck on a locked database is left behind, and a lease
        that cannot be released in time expires by itself."""
        self._stop.set()
        self._thread.join(timeout=grace)
        self._step_down()
        releasing = threading.Thread(target=self._release, name="zhengyun-scheduler-release", daemon=True)
        releasing.start()
        releasing.join(timeout=grace)

    def _release(self) -> None:
        try:
            release_lease(self.engine, self.holder)
        except Exception:
            log.exception("could not release the scheduler lease")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                leading = try_lease(self.engine, self.holder, self.seconds)
            except Exception:
                log.exception("the scheduler lease could not be renewed")
                leading = False
            if self._stop.is_set():  # stopped while the renewal waited for the database: never step up now
                break
            if leading and self.scheduler is None:
                self._step_up()
            elif not leading and self.scheduler is not None:
                self._step_down()
            self._stop.wait(self.seconds / 3)

    def _step_up(self) -> None:
        self.scheduler = new_scheduler(self.engine, _province_zone(self.engine))
        self.scheduler.start()
        LEADER.set(1)
        log.warning("%s holds the scheduler lease and runs the jobs", self.holder)

    def _step_down(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
            log.warning("%s no longer runs the jobs", self.holder)
        LEADER.set(0)
