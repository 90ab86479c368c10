"""The sandbox's secrets: generated once per state directory, kept in a 0600 file, never logged."""
import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxCredentials:
    token_signing_key: str
    client_secrets: dict      # cloud name -> the operator service principal's secret
    storage_keys: dict        # cloud name -> Azurite account key (base64, as Azure's keys are)

    @classmethod
    def load_or_create(cls, path: Path, cloud_names) -> "SandboxCredentials":
        if path.exists():
            return cls(**json.loads(path.read_text()))
        creds = cls(
            token_signing_key=secrets.token_urlsafe(32),
            client_secrets={name: secrets.token_urlsafe(24) for name in cloud_names},
            storage_keys={name: base64.b64encode(secrets.token_bytes(64)).decode() for name in cloud_names},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(path, json.dumps(creds.__dict__, indent=2).encode())
        return creds


def write_private_file(path: Path, content: bytes) -> None:
    """Write a file only its owner can read, from its first byte: created 0600 (never world-readable for an
    instant, whatever the umask), and made 0600 before writing when an older file of another mode is replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(content)
