"""The cloud's directory of extra service principals (`add-operator`): who may sign in besides the operator.

Kept in `<sandbox home>/operators.json` (0600), read on each sign-in so that principals added while the sandbox
runs can log in at once. Only a SHA-256 of each password is kept; the password itself is printed once.
"""
import hashlib
import hmac
import json
import secrets
import uuid
from pathlib import Path
from typing import Optional

from .credentials import write_private_file

OPERATORS_FILE = "operators.json"


def operators_path(home: Path) -> Path:
    return home / OPERATORS_FILE


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def load(path: Path) -> dict:
    """cloud name -> list of {name, appId, objectId, passwordSha256}."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def add(path: Path, cloud_name: str, name: str) -> tuple:
    """Register a new principal `name` in the cloud; (its entry, its password). A name already there is replaced
    (new ids and password), as re-creating an app registration would."""
    password = secrets.token_urlsafe(24)
    entry = {"name": name, "appId": str(uuid.uuid4()), "objectId": str(uuid.uuid4()),
             "passwordSha256": _digest(password)}
    directory = load(path)
    directory[cloud_name] = [e for e in directory.get(cloud_name, []) if e["name"] != name] + [entry]
    write_private_file(path, json.dumps(directory, indent=2).encode())
    return entry, password


def signed_in(path: Path, cloud_name: str, app_id: str, password: str) -> Optional[dict]:
    """The entry of `app_id` when `password` is its password, else None."""
    for entry in load(path).get(cloud_name, []):
        if entry["appId"] == app_id:
            return entry if hmac.compare_digest(entry["passwordSha256"], _digest(password)) else None
    return None


def is_known(path: Path, cloud_name: str, app_id: str) -> bool:
    return any(entry["appId"] == app_id for entry in load(path).get(cloud_name, []))
