"""A throwaway PostgreSQL cluster for fault runs: stopped and started at will, always removed.

The machine's shared server (127.0.0.1:5432) serves other work and must never be stopped, so a
fault run that takes the database away gets its own cluster: ``initdb`` into a temporary
directory, ``pg_ctl start`` on a free loopback port with its socket in that directory, trust
authentication for the superuser ``postgres``. ``initdb`` refuses to run as root; run as root,
every ``pg_ctl`` command runs as the ``postgres`` system user (``runuser``), who owns the
directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN_DIR = Path(os.environ.get("PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
#: The system user that owns the cluster when this runs as root.
OWNER = "postgres"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateCluster:
    """``with PrivateCluster() as pg:`` a running cluster with one empty database, ``pg.url``."""

    def __init__(self, database: str = "finder_faults", bin_dir: Path = BIN_DIR) -> None:
        if not (bin_dir / "initdb").exists():
            raise SystemExit(f"PostgreSQL's initdb is not in {bin_dir} (set PG_BIN_DIR)")
        self.bin_dir = bin_dir
        self.database = database
        self.port = _free_port()
        self.directory: Path | None = None
        self.frozen: list[int] = []

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", OWNER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}"
                               f"{done.stderr}\n{self.log_tail()}")
        return done.stdout

    def __enter__(self) -> PrivateCluster:
        self.directory = Path(tempfile.mkdtemp(prefix="finder-faults-pg-"))
        try:
            if os.geteuid() == 0:
                owner = pwd.getpwnam(OWNER)
                os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync", "--no-instructions")
            self.start()
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      self.database)
        except BaseException:
            self.__exit__()
            raise
        return self

    def start(self) -> float:
        """Start the cluster; returns when it accepts connections (seconds it took)."""
        started = time.monotonic()
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start", timeout=90)
        return time.monotonic() - started

    def stop(self, mode: str = "immediate") -> float:
        """Stop the cluster (``immediate``: like a crash, no clean shutdown); seconds it took."""
        started = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  timeout=90)
        return time.monotonic() - started

    def processes(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """Stop every process of the cluster (SIGSTOP): connections stay open, nothing answers,
        as with a server that hangs or a network that drops everything."""
        self.frozen = self.processes()
        for pid in self.frozen:  # the postmaster first: it starts no backend after that
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.frozen:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.frozen = []

    def log_tail(self, lines: int = 20) -> str:
        if self.directory is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *exc) -> None:
        if self.directory is None:
            return
        try:
            self.thaw()
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
