"""Start and stop the real servers the data-plane tests and the benchmark run against: Azurite (blob) and CNCF
distribution (``docker-registry``), each on a free 127.0.0.1 port, in its own temporary directory, stopped by PID.
"""
import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = REPO_ROOT / '.tools' / 'node_modules' / '.bin' / 'azurite-blob'
AZURITE_INSTALL = 'npm install --prefix {} azurite@3.35.0'.format(REPO_ROOT / '.tools')
REGISTRY_INSTALL = 'apt-get install -y docker-registry'
SKOPEO_INSTALL = 'apt-get install -y skopeo'
STARTUP_TIMEOUT = 30


class MissingBinary(RuntimeError):
    pass


def find_binary(name: str, install_hint: str, explicit: Optional[Path] = None) -> str:
    if explicit is not None and explicit.exists():
        return str(explicit)
    found = shutil.which(name)
    if not found:
        raise MissingBinary('{} is not installed; install it with: {}'.format(name, install_hint))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class _Server:
    """A child process with its own work directory; ``stop`` ends it by PID and removes the directory."""

    def __init__(self, prefix: str):
        self.workdir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.log_path = os.path.join(self.workdir, 'server.log')

    def _spawn(self, argv: list[str], env: Optional[dict] = None) -> None:
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, cwd=self.workdir)

    def _wait_until(self, ready) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ready():
                return
            time.sleep(0.1)
        log = Path(self.log_path).read_text(errors='replace')[-2000:]
        self.stop()
        raise RuntimeError('{} did not start on port {}:\n{}'.format(type(self).__name__, self.port, log))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)


class RegistryServer(_Server):
    """CNCF distribution, plain http, no auth, filesystem storage, deletes enabled."""

    def __init__(self):
        super().__init__('sandbox-registry-')
        self.url = 'http://127.0.0.1:{}'.format(self.port)

    def start(self) -> 'RegistryServer':
        binary = find_binary('docker-registry', REGISTRY_INSTALL)
        config = os.path.join(self.workdir, 'config.yml')
        with open(config, 'w') as handle:
            handle.write('version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
                         'storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n'
                         'http:\n  addr: 127.0.0.1:{}\n'.format(os.path.join(self.workdir, 'data'), self.port)
                         # Foreign layers allowed, as ACR and the sandbox's registries take them.
                         + 'validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n')
        self._spawn([binary, 'serve', config])
        self._wait_until(lambda: _http_status(self.url + '/v2/') == 200)
        return self


class AzuriteServer(_Server):
    """Azurite's blob service with one account of our own (name and random key), validating Shared Key and SAS."""

    def __init__(self, account_name: str = 'sandboxstorage'):
        super().__init__('sandbox-azurite-')
        self.account_name = account_name
        self.account_key = base64.b64encode(os.urandom(64)).decode()
        self.url = 'http://127.0.0.1:{}/{}'.format(self.port, account_name)

    @property
    def connection_string(self) -> str:
        return ('DefaultEndpointsProtocol=http;AccountName={};AccountKey={};BlobEndpoint={};'
                .format(self.account_name, self.account_key, self.url))

    def start(self) -> 'AzuriteServer':
        binary = find_binary('azurite-blob', AZURITE_INSTALL, AZURITE_BLOB)
        env = dict(os.environ, AZURITE_ACCOUNTS='{}:{}'.format(self.account_name, self.account_key))
        self._spawn([binary, '--blobHost', '127.0.0.1', '--blobPort', str(self.port),
                     '--location', os.path.join(self.workdir, 'data'), '--skipApiVersionCheck',
                     '--disableTelemetry', '--loose', '--silent'], env=env)
        self._wait_until(lambda: _http_status('http://127.0.0.1:{}/'.format(self.port)) is not None)
        return self


def _http_status(url: str) -> Optional[int]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None
