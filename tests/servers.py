"""Real servers started by the test suite (session fixtures), each self-contained."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    """A local S3 endpoint with one empty bucket."""

    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str

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
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        s3 = S3Server(
            endpoint=f"http://127.0.0.1:{port}",
            bucket="metaxy-tests",
            region="us-east-1",
            access_key="testing",
            secret_key="testing",
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
