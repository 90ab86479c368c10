"""The sandbox's cloud process as it runs for users (``python -m acrtransfer_sandbox serve``), in a temporary state
directory on free ports, with a real docker-registry behind the source cloud's registry front; and clients for it
that send exactly the bytes a test gives (no client-side path normalisation).
"""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import requests

from acrtransfer_sandbox.plumbing.config import ARM_AUDIENCE, VAULT_AUDIENCE, SandboxConfig
from servers import REPO_ROOT, RegistryServer

STARTUP_TIMEOUT = 60


def _ports_free(ports) -> bool:
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_base() -> int:
    """A port base whose every sandbox port is free (below the ephemeral range, like the sandbox's default)."""
    first = int(os.environ.get("ACRSANDBOX_TEST_PORT_BASE", "21000"))
    for base in range(first, first + 4000, 50):
        if _ports_free(range(base + 1, base + 21)):
            return base
    raise RuntimeError("no free block of 20 ports for the sandbox under test")


class RunningSandbox:
    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="acrsandbox-boundary-"))
        self.config = SandboxConfig(home=self.home, port_base=free_port_base(), trigger_interval=3600.0)
        self.source, self.target = self.config.source, self.config.target
        self.registry = RegistryServer()
        self.process: Optional[subprocess.Popen] = None
        self.log_path = self.home / "serve.log"
        self.credentials: dict = {}
        self._tokens: dict = {}

    def start(self) -> "RunningSandbox":
        self.registry.port = self.source.registry_upstream_port
        self.registry.url = self.source.registry_upstream_url
        self.registry.start()
        env = {**os.environ, "ACRSANDBOX_HOME": str(self.home), "ACRSANDBOX_PORT_BASE": str(self.config.port_base),
               "ACRSANDBOX_TRIGGER_INTERVAL": "3600", "PYTHONPATH": str(REPO_ROOT)}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "acrtransfer_sandbox", "serve"], cwd=REPO_ROOT,
                                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._answers():
                self.credentials = json.loads((self.home / "credentials.json").read_text())
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the sandbox did not start:\n" + self.log_path.read_text(errors="replace")[-3000:])

    def _answers(self) -> bool:
        try:
            return all(requests.get(cloud.front_url + "/metadata/endpoints", verify=self.ca, timeout=2).ok
                       for cloud in (self.source, self.target))
        except (requests.RequestException, OSError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.registry.stop()

    @property
    def ca(self) -> str:
        return str(self.config.ca_cert)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def token(self, cloud, audience: str = ARM_AUDIENCE) -> str:
        """An access token of the cloud's operator, from its token endpoint (as az login gets one)."""
        if (cloud.name, audience) in self._tokens:
            return self._tokens[cloud.name, audience]
        response = requests.post(f"{cloud.front_url}/{cloud.tenant_id}/oauth2/v2.0/token", verify=self.ca, data={
            "grant_type": "client_credentials", "client_id": cloud.client_id,
            "client_secret": self.credentials["client_secrets"][cloud.name], "scope": audience + "/.default"})
        response.raise_for_status()
        self._tokens[cloud.name, audience] = response.json()["access_token"]
        return self._tokens[cloud.name, audience]

    def vault_token(self, cloud) -> str:
        return self.token(cloud, VAULT_AUDIENCE)

    def raw(self, port: int, method: str, path: str, body: Optional[bytes] = None,
            headers: Optional[dict] = None) -> tuple:
        """(status, parsed JSON or raw text) for a request sent byte for byte as given (path included)."""
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                                 context=ssl.create_default_context(cafile=self.ca))
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode(errors="replace")

    def arm(self, cloud, method: str, path: str, body=None, token: Optional[str] = "default",
            raw_body: Optional[bytes] = None, port: Optional[int] = None) -> tuple:
        headers = {"Content-Type": "application/json"}
        if token == "default":
            token = self.token(cloud)
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        return self.raw(port or cloud.front_port, method, path, data, headers)
