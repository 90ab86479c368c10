# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""check and grant, recorded from the sandbox: the ARM requests they send through az's own Key Vault,
Authorization and Storage SDKs.

Those SDKs speak the api-versions of the az release that bundles them, so each az release has its own cassette
(`<scenario>_az<major.minor>.yaml`), recorded with that release: `bash tests/scenario/record.sh` for the
project venv, and the same with `.venv-oldest/bin/python -m pytest tests/scenario/test_check_grant.py` for
2.44. The sandbox's URIs at recording time are kept per release too (check_grant_variables_az<release>.json):
re-recording one release leaves the other's cassettes playable.
"""

import json
import os
import uuid
from concurrent.futures import Future
from contextlib import contextmanager
from unittest import mock

import pytest
from azure.cli.core import __version__ as AZ_VERSION

from recording import RECORDING, RECORDINGS, scenario

RELEASE = '.'.join(AZ_VERSION.split('.')[:2])
VARIABLES_FILE = os.path.join(RECORDINGS, 'check_grant_variables_az{}.json'.format(RELEASE))
ASSIGNMENT_NAME = uuid.UUID('6a3c6b9e-0f9e-4a41-9a57-0c5d3e7e1c01')


def check_variables():
    if RECORDING:
        variables = {'resource_group': os.environ['ACRSANDBOX_RESOURCE_GROUP'],
                     'registry': os.environ['ACRSANDBOX_REGISTRY'],
                     'storage_container_uri': os.environ['ACRSANDBOX_STORAGE_CONTAINER_URI'],
                     'secret_uri': os.environ['ACRSANDBOX_SECRET_URI'],
                     'vault': os.environ['ACRSANDBOX_KEYVAULT']}
        with open(VARIABLES_FILE, 'w', encoding='utf-8') as f:
            json.dump(variables, f, indent=2, sort_keys=True)
            f.write('\n')
        return variables
    with open(VARIABLES_FILE, encoding='utf-8') as f:
        return json.load(f)


@contextmanager
def release_scenario(name):
    cassette = '{}_az{}'.format(name, RELEASE)
    if not RECORDING and not os.path.exists(os.path.join(RECORDINGS, cassette + '.yaml')):
        pytest.skip('no cassette recorded with az {} ({}.yaml)'.format(RELEASE, cassette))
    # A role assignment's name is a fresh GUID; a fixed one keeps the recorded PUT replayable.
    # vcrpy loses interactions of concurrent requests while recording: check's look-ups run one at a time here,
    # each when it is started (a look-up only waits on look-ups started before it, so this order always works).
    with mock.patch('azext_acrtransfer.grant.uuid.uuid4', lambda: ASSIGNMENT_NAME), \
            mock.patch('azext_acrtransfer.check.ThreadPoolExecutor', InlineExecutor), scenario(cassette) as s:
        yield s


class InlineExecutor:
    """A ThreadPoolExecutor that runs each task in the caller's thread when it is submitted."""

    def __init__(self, **_):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    @staticmethod
    def submit(task, *args):
        future = Future()
        try:
            future.set_result(task(*args))
        except Exception as error:  # pylint: disable=broad-except
            future.set_exception(error)
        return future


def _pipeline_name(prefix):
    return '{}{}'.format(prefix, RELEASE.replace('.', ''))


def test_check_and_grant_managed_identity_import_pipeline():
    v = check_variables()
    name = _pipeline_name('checkgrantmi')
    with release_scenario('check_grant_managed_identity') as s:
        reg = ['-g', v['resource_group'], '-r', v['registry'], '-n', name]
        created = s.az('acr', 'import-pipeline', 'create', *reg, '--storage-access-mode', 'ManagedIdentity',
                       '--storage-container-uri', v['storage_container_uri'], '--source-trigger-enabled', 'false')
        assert created.exit_code == 0, created.stderr
        principal = created.json()['identity']['principalId']

        before = s.az('acr', 'import-pipeline', 'check', *reg)
        assert before.exit_code == 1, before.stderr
        results = {r['name']: r for r in before.json()}
        assert [(r['name'], r['status']) for r in before.json()] == [
            ('Pipeline', 'Passed'), ('Identity', 'Passed'), ('Registry', 'Passed'),
            # the sandbox serves no effective-permissions API: Skipped, never a false alarm
            ('CallerPermissions', 'Skipped'),
            ('StorageAccount', 'Passed'), ('StorageNetwork', 'Passed'), ('StorageRole', 'Failed'),
            ('SourceTrigger', 'Skipped')]
        assert results['StorageRole']['fix'].startswith(
            'az role assignment create --assignee-object-id {} --assignee-principal-type ServicePrincipal '
            '--role "Storage Blob Data Reader" --scope /subscriptions/'.format(principal))
        assert results['SourceTrigger']['detail'].startswith('The source trigger is disabled')

        first = s.az('acr', 'import-pipeline', 'grant', *reg)
        assert first.exit_code == 0, first.stderr
        assert first.json()['granted'] == ['Storage Blob Data Reader']
        assert "Assigned 'Storage Blob Data Reader' to {}".format(principal) in first.stderr
        second = s.az('acr', 'import-pipeline', 'grant', *reg)
        assert second.json()['granted'] == [] and 'Nothing to do' in second.stderr

        after = s.az('acr', 'import-pipeline', 'check', *reg, output='table')
        assert after.exit_code == 0, after.stderr
        rows = after.stdout.splitlines()
        assert rows[0].split() == ['NAME', 'STATUS', 'DETAIL', 'FIX']
        assert any(row.startswith('StorageRole') and ' Passed ' in row for row in rows), after.stdout


def test_grant_adds_an_access_policy_once():
    v = check_variables()
    name = _pipeline_name('checkgrantkv')
    with release_scenario('check_grant_access_policy') as s:
        reg = ['-g', v['resource_group'], '-r', v['registry'], '-n', name]
        created = s.az('acr', 'export-pipeline', 'create', *reg, '--secret-uri', v['secret_uri'],
                       '--storage-container-uri', v['storage_container_uri'])
        assert created.exit_code == 0, created.stderr
        assert 'az acr export-pipeline grant' in created.stderr and '--grant-access' in created.stderr
        principal = created.json()['identity']['principalId']

        first = s.az('acr', 'export-pipeline', 'grant', *reg)
        assert first.exit_code == 0, first.stderr
        assert first.json()['granted'] == ['secrets: get']
        assert "Vault '{}'".format(v['vault']) in first.stderr and principal in first.stderr
        second = s.az('acr', 'export-pipeline', 'grant', *reg)
        assert second.json()['granted'] == [] and 'Nothing to do' in second.stderr
