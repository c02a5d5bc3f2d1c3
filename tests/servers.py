"""Real servers for the tests, started by the suite itself (session fixtures, loaded once from the root
conftest via ``pytest_plugins`` so each pytest-xdist worker starts at most one of each).

- ``postgres_url``: a throwaway PostgreSQL cluster (one per pytest-xdist worker) in a temp dir, run as the
  ``postgres`` user when the tests run as root (PostgreSQL refuses root), directly otherwise.
- ``chdb_path``: the directory of the embedded ClickHouse (chdb). chdb allows one data directory per
  process, so every test shares it and isolates itself with its own database.
- ``s3_server``: moto in server mode (a real HTTP S3 API) on loopback, with one bucket.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/14/bin")


def _pg_bin() -> Path | None:
    for directory in PG_BIN_DIRS:
        if Path(directory, "pg_ctl").exists():
            return Path(directory)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: drop to its own user when we are root
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL (``postgresql+psycopg://``) of a fresh PostgreSQL server, stopped at the end of the session."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries (pg_ctl) on this machine; install postgresql to run these tests")
    root = Path(tempfile.mkdtemp(prefix="metaxy-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    port = _free_port()
    _run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]))
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = root / "server.log"
    _run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"])
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def chdb_path() -> Iterator[Path]:
    """The one embedded-ClickHouse data directory of this test process."""
    root = Path(tempfile.mkdtemp(prefix="metaxy-chdb-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class S3Server:
    """A local S3 endpoint with one empty bucket."""

    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str
    #: the server's request log (one line per HTTP request), for tests that count requests
    request_log: Path

    def requests(self) -> list[str]:
        """Every request answered so far, as ``"METHOD /path?query"`` strings, oldest first."""
        lines = self.request_log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [match.group(1) for line in lines if (match := _REQUEST.search(line))]

    def storage_options(self) -> dict[str, str]:
        """deltalake/object_store options for this server.

        No locking provider and no ``AWS_S3_ALLOW_UNSAFE_RENAME``: deltalake >= 1.0 commits on S3 with
        conditional PUT (``If-None-Match: *``), which moto's server honours, so concurrent writers
        stay safe.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


_REQUEST = re.compile(r'"([A-Z]+ \S+) HTTP/')


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # polling a server coming up, not waiting for a result
    raise RuntimeError(f"moto server did not answer on {url} within {timeout} s")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto in server mode on 127.0.0.1 in its own process (a real HTTP S3 API), with one bucket.

    A separate process, not moto's in-thread server: deltalake holds the GIL during some blocking
    requests, which would starve a server thread in the test process.
    """
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")
    port = _free_port()
    root = Path(tempfile.mkdtemp(prefix="metaxy-s3-"))
    log = (root / "requests.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
    )
    try:
        s3 = S3Server(
            endpoint=f"http://127.0.0.1:{port}",
            bucket="metaxy-tests",
            region="us-east-1",
            access_key="testing",
            secret_key="testing",
            request_log=root / "requests.log",
        )
        _wait_until_up(f"{s3.endpoint}/moto-api/", proc)
        client = boto3.client(
            "s3",
            endpoint_url=s3.endpoint,
            region_name=s3.region,
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
        )
        client.create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
