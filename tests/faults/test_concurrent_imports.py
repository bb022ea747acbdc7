"""Several importers at once with overlapping event sets (the same ids in several files, as retrying
pushers produce), with the default commit cadence: all finish, and exactly the distinct events are
stored, once each — through `zhengyun usage import` processes and through `ingest_events`, the path the
HTTP API takes."""

from __future__ import annotations

import json
import random
import threading

import pytest

from core.db import make_engine
from metering.service import ingest_events
from tenants.permissions import SYSTEM
from tests.faults.conftest import PLACES, micro, write_lines
from zhengyun import app

pytestmark = pytest.mark.faults


def test_importers_of_overlapping_files_all_finish_and_store_the_distinct_events_once(zhengyun, tmp_path):
    rng = random.Random(5)
    files, numbers = [], set()
    for k in range(4):  # each file overlaps the next by half, in its own order, with some of its own repeated
        part = list(range(k * 15_000, k * 15_000 + 30_000))
        part += rng.sample(part, 1_000)
        rng.shuffle(part)
        files.append(write_lines(tmp_path / f"part{k}.csv", part))
        numbers |= set(part)
    procs = [zhengyun.start("usage", "import", str(f), "--json") for f in files]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err
        reports.append(json.loads(out))
    assert sum(r["accepted"] for r in reports) == len(numbers) == 75_000
    assert sum(r["accepted"] + r["duplicates"] for r in reports) == 4 * 31_000
    assert zhengyun.events() == (len(numbers), sum(micro(n) for n in numbers))
    assert zhengyun.cli("audit", "verify").code == 0


def _event(n: int) -> dict[str, str]:
    dept, cloud = PLACES[n % len(PLACES)]
    return {
        "event_id": f"api-{n:07d}",
        "time": f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:00:00+08:00",
        "department": dept,
        "cloud": cloud,
        "meter": "vcpu_hours",
        "quantity": f"{n % 1000}.{n % 997:03d}",
    }


def test_api_requests_with_overlapping_events_at_once_all_succeed(zhengyun):
    # four clients push requests of up to 10,000 events (the API's limit), retrying each other's
    rng = random.Random(9)
    requests = []
    for k in range(4):
        for first in range(0, 20_000, 5_000):
            part = list(range(first + k * 2_500, first + k * 2_500 + 5_000))
            rng.shuffle(part)
            requests.append(part)
    rng.shuffle(requests)
    errors: list[BaseException] = []
    accepted: list[int] = []

    def client(mine: list[list[int]]) -> None:
        engine = make_engine(zhengyun.url)
        try:
            for part in mine:  # one request: one unit of work through the one way in, as the API does
                report = app.run(
                    lambda s, a, part=part: ingest_events(s, actor=a, events=[_event(n) for n in part], source="api"),
                    actor=SYSTEM,
                    engine=engine,
                )
                accepted.append(report.accepted)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=client, args=(requests[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    numbers = {n for part in requests for n in part}
    assert errors == [] and sum(accepted) == len(numbers)
    assert zhengyun.events() == (len(numbers), sum(micro_api(n) for n in numbers))
    assert zhengyun.cli("audit", "verify").code == 0


def micro_api(n: int) -> int:
    return (n % 1000) * 1_000_000 + (n % 997) * 1_000
