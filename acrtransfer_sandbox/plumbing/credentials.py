"""The sandbox's secrets: generated once per state directory, kept in a 0600 file, never logged."""
import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


MAX_RETIRED_KEYS = 20


@dataclass(frozen=True)
class SandboxCredentials:
    token_signing_key: str
    client_secrets: dict      # cloud name -> the operator service principal's secret
    storage_keys: dict        # cloud name -> Azurite account key (base64, as Azure's keys are): key1
    # cloud name -> the account's second key (key2); a state directory from before it had one gets one on load.
    secondary_storage_keys: dict = field(default_factory=dict)
    # cloud name -> the keys `keys renew` replaced, newest last (a SAS they signed is dead: see rules/sas.py).
    retired_storage_keys: dict = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, path: Path, cloud_names) -> "SandboxCredentials":
        if path.exists():
            creds = cls(**json.loads(path.read_text()))
            if all(name in creds.secondary_storage_keys for name in cloud_names):
                return creds
        else:
            creds = cls(
                token_signing_key=secrets.token_urlsafe(32),
                client_secrets={name: secrets.token_urlsafe(24) for name in cloud_names},
                storage_keys={name: _account_key() for name in cloud_names},
            )
        for name in cloud_names:
            creds.secondary_storage_keys.setdefault(name, _account_key())
        creds.save(path)
        return creds

    def account_keys(self, cloud_name: str) -> dict:
        return {"key1": self.storage_keys[cloud_name], "key2": self.secondary_storage_keys[cloud_name]}

    def replace_account_key(self, cloud_name: str, key_name: str, value: str) -> None:
        """Rotate one key in place: every holder of this object sees it (`save` writes it to disk)."""
        keys = self.storage_keys if key_name == "key1" else self.secondary_storage_keys
        retired = self.retired_storage_keys.setdefault(cloud_name, [])
        retired[:] = (retired + [keys[cloud_name]])[-MAX_RETIRED_KEYS:]
        keys[cloud_name] = value

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(path, json.dumps(self.__dict__, indent=2).encode())


def _account_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


def write_private_file(path: Path, content: bytes) -> None:
    """Write a file only its owner can read, from its first byte: created 0600 (never world-readable for an
    instant, whatever the umask), and made 0600 before writing when an older file of another mode is replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(content)
