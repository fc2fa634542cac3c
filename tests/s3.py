"""A real S3 API for the tests: moto's server on a loopback port of its own, one bucket."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: moto accepts any credentials; these stand for a user's, handed as the AWS SDKs read them.
ACCESS_KEY = "AKIATESTARTIFACTS"
SECRET_KEY = "test-secret-key-never-logged"


@dataclass(frozen=True)
class Bucket:
    """A bucket on a running moto server."""

    endpoint: str
    name: str

    @property
    def environ(self) -> dict[str, str]:
        """The variables a server reads its credentials from."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def object_keys(self) -> list[str]:
        """Every object key in the bucket, read with boto3 (not through the code tested)."""
        listed = self._client().list_objects_v2(Bucket=self.name)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def put(self, key: str, body: bytes) -> None:
        """Write an object behind the code's back."""
        self._client().put_object(Bucket=self.name, Key=key, Body=body)

    def _client(self) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )


@contextmanager
def moto_bucket() -> Iterator[Bucket]:
    """moto in server mode on 127.0.0.1 (port 0: its own), with a fresh bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        bucket = Bucket(f"http://{host}:{port}", f"runbook-{secrets.token_hex(4)}")
        bucket._client().create_bucket(Bucket=bucket.name)
        yield bucket
    finally:
        server.stop()
