# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Run az in-process with this checkout's extension loaded, an isolated config dir and a fake login.

Import this module before anything imports azure.cli.core: az reads AZURE_CONFIG_DIR and the extension
directory when it is first imported. Nothing here talks to the network; the tests decide who answers HTTP
(a strict replay of recorded interactions, or vcrpy cassettes).
"""

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from unittest import mock

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBSCRIPTION = '00000000-0000-0000-0000-000000000000'
TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
USER = 'test@example.com'
FAKE_TOKEN = 'fake-access-token'

_STATE = tempfile.mkdtemp(prefix='acrtransfer-az-')
CONFIG_DIR = os.path.join(_STATE, 'config')
EXTENSION_DIR = os.path.join(_STATE, 'extensions')


def _install_extension_from_checkout():
    """Lay the extension out as `az extension add` would, but linked to the source so tests see edits."""
    ext_root = os.path.join(EXTENSION_DIR, 'acrtransfer')
    os.makedirs(ext_root)
    os.symlink(os.path.join(REPO_ROOT, 'azext_acrtransfer'), os.path.join(ext_root, 'azext_acrtransfer'))
    version = _setup_version()
    dist_info = os.path.join(ext_root, 'acrtransfer-{}.dist-info'.format(version))
    os.makedirs(dist_info)
    with open(os.path.join(dist_info, 'METADATA'), 'w', encoding='utf-8') as f:
        f.write('Metadata-Version: 2.1\nName: acrtransfer\nVersion: {}\n'.format(version))


def _setup_version():
    with open(os.path.join(REPO_ROOT, 'setup.py'), encoding='utf-8') as f:
        for line in f:
            if line.startswith('VERSION = '):
                return line.split('"')[1]
    raise RuntimeError('VERSION not found in setup.py')


def _write_profile():
    os.makedirs(CONFIG_DIR, exist_ok=True)
    profile = {'installationId': 'acrtransfer-tests', 'subscriptions': [{
        'id': SUBSCRIPTION, 'name': 'acrtransfer-tests', 'state': 'Enabled', 'isDefault': True,
        'tenantId': TENANT, 'homeTenantId': TENANT, 'environmentName': 'AzureCloud', 'managedByTenants': [],
        'user': {'name': USER, 'type': 'user'}}]}
    with open(os.path.join(CONFIG_DIR, 'azureProfile.json'), 'w', encoding='utf-8') as f:
        json.dump(profile, f)
    with open(os.path.join(CONFIG_DIR, 'config'), 'w', encoding='utf-8') as f:
        # error_recommendation: on a parse error older az asks an online service for suggestions.
        f.write('[core]\ncollect_telemetry = false\nno_color = true\nerror_recommendation = off\n'
                '[output]\nshow_survey_message = false\n')


os.environ.update({'AZURE_CONFIG_DIR': CONFIG_DIR, 'AZURE_EXTENSION_DIR': EXTENSION_DIR,
                   'AZURE_CORE_COLLECT_TELEMETRY': 'false', 'AZURE_CORE_NO_COLOR': 'true',
                   'AZURE_CORE_ONLY_SHOW_ERRORS': 'false', 'AZURE_CORE_DISABLE_PROGRESS_BAR': 'true'})
for _name in [n for n in os.environ if n.startswith('AZURE_DEFAULTS_') or n == 'AZURE_ACRTRANSFER_API_VERSION']:
    del os.environ[_name]
_install_extension_from_checkout()
_write_profile()


def _seed_version_check():
    """Without a fresh versionCheck.json az may ask the network for the newest release."""
    from azure.cli.core.util import _get_local_versions  # pylint: disable=import-outside-toplevel
    with open(os.path.join(CONFIG_DIR, 'versionCheck.json'), 'w', encoding='utf-8') as f:
        json.dump({'versions': _get_local_versions(),
                   'update_time': datetime.now().strftime('%Y-%m-%d %H:%M:%S.%f')}, f)


_seed_version_check()


class FakeUserCredential:
    """Stands in for MSAL: every scope gets the same fake bearer token (older and newer az call either API)."""

    def __init__(self, *_, **__):
        pass

    def acquire_token(self, scopes, **_):  # az >= 2.61
        return {'access_token': FAKE_TOKEN, 'token_type': 'Bearer', 'expires_in': 3600}

    def get_token(self, *scopes, **_):  # older az
        from azure.core.credentials import AccessToken  # pylint: disable=import-outside-toplevel
        import time  # pylint: disable=import-outside-toplevel
        return AccessToken(FAKE_TOKEN, int(time.time()) + 3600)


@dataclass
class AzResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None


def set_config(section, option, value):
    """Like `az config set section.option=value`, in the isolated config file."""
    import configparser  # pylint: disable=import-outside-toplevel
    path = os.path.join(CONFIG_DIR, 'config')
    parser = configparser.ConfigParser()
    parser.read(path)
    if value is None:
        if parser.has_section(section):
            parser.remove_option(section, option)
    else:
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, option, value)
    with open(path, 'w', encoding='utf-8') as f:
        parser.write(f)


@contextlib.contextmanager
def _fresh_az_logging():
    """knack configures logging once per process, onto the stderr of that moment, and not at all while
    another handler (pytest's) sits on the root logger; give each invocation its own, then restore."""
    root, cli = logging.getLogger(), logging.getLogger('cli')
    saved_root, saved_cli = root.handlers[:], cli.handlers[:]
    root.handlers, cli.handlers = [], []
    try:
        yield
    finally:
        root.handlers, cli.handlers = saved_root, saved_cli


def run_az(argv, output='json'):
    """Invoke az in this process; return exit code, stdout and everything az logged to stderr."""
    from azure.cli.core import get_default_cli  # pylint: disable=import-outside-toplevel
    stdout, stderr = io.StringIO(), io.StringIO()
    args = list(argv) + (['--output', output] if output and '--output' not in argv and '-o' not in argv else [])
    with mock.patch('azure.cli.core.auth.identity.Identity.get_user_credential',
                    lambda *_, **__: FakeUserCredential()), \
            contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout), _fresh_az_logging():
        cli = get_default_cli()
        try:
            exit_code = cli.invoke(args, out_file=stdout)
        except SystemExit as exit_:  # argparse errors
            exit_code = exit_.code if isinstance(exit_.code, int) else 1
    return AzResult(exit_code, stdout.getvalue(), stderr.getvalue())


def cleanup():
    shutil.rmtree(_STATE, ignore_errors=True)
