"""`zhengyun serve`'s process: uvicorn with the API (and the scheduler), stopping within
`zhengyun.stopping.STOP_SECONDS` of Ctrl-C or SIGTERM (docs/reference.md#command-line).

uvicorn's own stop waits for every request in flight, however long it takes; here it waits a second,
then cancels them and stops the lifespan (the scheduler, `Leadership.stop`), and the first signal
arms the watchdog of `zhengyun.stopping`, which ends the process (and its worker processes) should a
thread the interpreter waits for at exit — a request's, a job's — still be stuck in the database.
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn
from uvicorn.main import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from zhengyun import stopping

APP = "zhengyun.api.main:create_served_app"


class Server(uvicorn.Server):
    """uvicorn's server, with the watchdog armed by the first stop signal."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        stopping.arm(sig)
        super().handle_exit(sig, frame)


class Workers(Multiprocess):
    """uvicorn's supervisor of several worker processes; the watchdog kills them should they linger."""

    def handle_int(self) -> None:
        self._arm(signal.SIGINT)
        super().handle_int()

    def handle_term(self) -> None:
        self._arm(signal.SIGTERM)
        super().handle_term()

    def _arm(self, sig: int) -> None:
        for worker in self.processes:
            stopping.adopt(worker.process.kill)
        stopping.arm(sig)


def config(*, host: str, port: int, workers: int) -> uvicorn.Config:
    """The served app on `host:port`: requests in flight get a second to finish at a stop."""
    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_graceful_shutdown=1,
    )


def run(*, host: str, port: int, workers: int = 1) -> None:
    """Serve until Ctrl-C or SIGTERM (as `uvicorn.run` does, with the bounded stop)."""
    cfg = config(host=host, port=port, workers=workers)
    try:
        if cfg.workers > 1:
            Workers(cfg, sockets=[cfg.bind_socket()]).run()
            return
        cfg.load_app()
        server = Server(cfg)
        server.run()
    except KeyboardInterrupt:  # the signal uvicorn raises again once it has stopped
        return
    if not server.started:  # it could not listen, or the app did not start: uvicorn's own exit code
        raise SystemExit(STARTUP_FAILURE)
