"""A throw-away PostgreSQL server for tests: initdb into a temporary folder, pg_ctl on loopback.

Debian keeps the server binaries in ``/usr/lib/postgresql/<major>/bin`` (not on PATH); they
are looked up there and on PATH. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` user the Debian package creates (``runuser -u postgres --``), in a
folder it owns under the system temporary folder (pytest's own is private to root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install postgresql (Debian) puts them in /usr/lib/postgresql/*/bin"
SUPERUSER = "stratops"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` of the newest PostgreSQL installed."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def missing_requirement() -> str | None:
    """Why a PostgreSQL server cannot be started here, None when it can."""
    if find_bin_dir() is None:
        return f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser (util-linux) to start PostgreSQL as postgres"
    try:
        import pwd

        if os.geteuid() == 0:
            pwd.getpwnam("postgres")
    except KeyError:
        return "running as root needs the 'postgres' user (created by the postgresql package)"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is missing: pip install psycopg2-binary"
    return None


@dataclass
class PostgresServer:
    bin_dir: Path
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str) -> str:
        """The libpq URI (psql, psycopg2.connect)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def sqlalchemy_url(self, database: str) -> str:
        """The URI for ``mlflow server --backend-store-uri``: the driver named, because
        SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, not psycopg2."""
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, str(self.bin_dir / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )

    @classmethod
    def start(cls, port: int) -> PostgresServer:
        bin_dir = find_bin_dir()
        assert bin_dir is not None, INSTALL_HINT
        folder = Path(tempfile.mkdtemp(prefix="stratops-pg-"))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = cls(bin_dir, folder, port)
        server._run("initdb", "-D", str(server.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        server._run(
            "pg_ctl", "-D", str(server.data), "-l", str(server.log), "-o", options, "-w", "start"
        )
        return server

    def create_database(self, name: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.url("postgres"))
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
