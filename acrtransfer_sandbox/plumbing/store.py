"""The resource store: every ARM resource and every piece of bookkeeping the sandbox keeps, in one JSON file.

ARM resource ids are case-insensitive, so documents are keyed by the lower-cased id while keeping the id as
the client wrote it inside the document. Each change rewrites the file atomically (write + rename), so a
crash or `sandbox-down` never leaves half a state behind. The file is 0600: it holds Key Vault secrets.
"""
import copy
import json
import os
import threading
from pathlib import Path
from typing import Optional


class ResourceStore:
    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()
        self._data = {"resources": {}, "secrets": {}, "bookkeeping": {}}
        if path.exists():
            self._data.update(json.loads(path.read_text()))

    # ARM resources
    def get(self, resource_id: str) -> Optional[dict]:
        doc = self._data["resources"].get(resource_id.lower())
        return copy.deepcopy(doc)

    def put(self, resource_id: str, document: dict) -> dict:
        with self._lock:
            self._data["resources"][resource_id.lower()] = copy.deepcopy(document)
            self._save()
        return document

    def delete(self, resource_id: str) -> bool:
        with self._lock:
            existed = self._data["resources"].pop(resource_id.lower(), None) is not None
            if existed:
                self._save()
        return existed

    def children(self, parent_id: str, child_type: str) -> list:
        """The resources directly under `parent_id/child_type/`, in creation order."""
        prefix = f"{parent_id.lower()}/{child_type.lower()}/"
        return [copy.deepcopy(doc) for key, doc in self._data["resources"].items()
                if key.startswith(prefix) and "/" not in key[len(prefix):]]

    def all_resources(self) -> list:
        return [copy.deepcopy(doc) for doc in self._data["resources"].values()]

    # Key Vault secrets: vault id -> secret name -> list of versions (newest last)
    def secret_versions(self, vault_id: str, name: str) -> list:
        return copy.deepcopy(self._data["secrets"].get(vault_id.lower(), {}).get(name.lower(), []))

    def secret_names(self, vault_id: str) -> list:
        return sorted(self._data["secrets"].get(vault_id.lower(), {}))

    def add_secret_version(self, vault_id: str, name: str, version: dict) -> None:
        with self._lock:
            vault = self._data["secrets"].setdefault(vault_id.lower(), {})
            vault.setdefault(name.lower(), []).append(copy.deepcopy(version))
            self._save()

    # Bookkeeping that is not a resource (e.g. which blobs the source trigger has seen)
    def get_bookkeeping(self, key: str, default=None):
        return copy.deepcopy(self._data["bookkeeping"].get(key, default))

    def set_bookkeeping(self, key: str, value) -> None:
        with self._lock:
            self._data["bookkeeping"][key] = copy.deepcopy(value)
            self._save()

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # The mode given to open applies only when it creates the file: a temporary file left by a crash keeps its own.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            # One compact json.dumps: only that takes the C encoder (json.dump and indent= are pure Python, 4x
            # slower), and every change of every request rewrites this file.
            out.write(json.dumps(self._data, separators=(",", ":")))
        os.replace(tmp, self._path)
