# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Recorded scenarios: az in-process against vcrpy cassettes, re-recordable against the sandbox.

Playback (the default) needs no login and no network: az talks to https://management.azure.com/ with the test
subscription, and every request must match a recorded one (method, URL, JSON body; a forceUpdateTag is a fresh
timestamp, so only its presence is compared).

Record mode (ACRTRANSFER_RECORD=1, see tests/scenario/record.sh) sends the same requests to the sandbox's ARM
endpoint with a real token, then scrubs what is the sandbox's own before writing the cassette: its endpoint
becomes management.azure.com, its subscription the test subscription, tokens are dropped. Steps that belong to
other az commands (granting Key Vault access) run against the sandbox through the real az and are not recorded:
their effect is in the recorded responses.
"""

import json
import os
import subprocess
from contextlib import contextmanager
from unittest import mock

import vcr

from azcli import SUBSCRIPTION, run_az

RECORDINGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recordings')
VARIABLES_FILE = os.path.join(RECORDINGS, 'variables.json')
PUBLIC_ARM = 'https://management.azure.com/'
RECORDING = os.environ.get('ACRTRANSFER_RECORD') == '1'
SANDBOX_ARM = os.environ.get('ACRSANDBOX_ARM_ENDPOINT', '')
SANDBOX_SUBSCRIPTION = os.environ.get('ACRSANDBOX_SUBSCRIPTION', '')

# What a scenario needs to know about the environment it was recorded in; kept beside the cassettes.
_VARIABLE_SOURCES = {
    'resource_group': 'ACRSANDBOX_RESOURCE_GROUP',
    'registry': 'ACRSANDBOX_REGISTRY',
    'storage_container_uri': 'ACRSANDBOX_STORAGE_CONTAINER_URI',
    'secret_uri': 'ACRSANDBOX_SECRET_URI',
    'vault': 'ACRSANDBOX_KEYVAULT',
}


def scenario_variables():
    if RECORDING:
        variables = {name: os.environ[source] for name, source in _VARIABLE_SOURCES.items()}
        variables['user_identity'] = ('/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ManagedIdentity/'
                                      'userAssignedIdentities/transferidentity').format(
                                          SUBSCRIPTION, variables['resource_group'])
        os.makedirs(RECORDINGS, exist_ok=True)
        with open(VARIABLES_FILE, 'w', encoding='utf-8') as f:
            json.dump(variables, f, indent=2, sort_keys=True)
            f.write('\n')
        return variables
    with open(VARIABLES_FILE, encoding='utf-8') as f:
        return json.load(f)


def _text(body):
    """Request and response bodies arrive as bytes or str depending on the layer; compare and edit them as str."""
    return body.decode('utf-8') if isinstance(body, bytes) else body


def _scrub(text):
    if not text or not RECORDING:
        return text
    if SANDBOX_ARM:
        text = text.replace(SANDBOX_ARM, PUBLIC_ARM).replace(SANDBOX_ARM.rstrip('/'), PUBLIC_ARM.rstrip('/'))
    return text.replace(SANDBOX_SUBSCRIPTION, SUBSCRIPTION) if SANDBOX_SUBSCRIPTION else text


def _scrub_request(request):
    request.uri = _scrub(request.uri)
    if request.body:
        request.body = _scrub(_text(request.body)).encode('utf-8')
    for header in list(request.headers):
        if header.lower() in ('authorization', 'x-ms-authorization-auxiliary'):
            del request.headers[header]
    return request


def _scrub_response(response):
    response['headers'] = {name: [_scrub(value) for value in values]
                           for name, values in response['headers'].items()
                           if name.lower() not in ('set-cookie', 'x-ms-client-request-id')}
    body = response['body'].get('string')
    if body:
        response['body']['string'] = _scrub(_text(body)).encode('utf-8')
    return response


def _json_body_matcher(recorded, live):
    """JSON-equal bodies; forceUpdateTag is a fresh timestamp each time, so only its presence must match."""
    def load(request):
        body = _text(request.body)
        if not body:
            return None
        data = json.loads(body)
        properties = data.get('properties') if isinstance(data, dict) else None
        if isinstance(properties, dict) and 'forceUpdateTag' in properties:
            properties['forceUpdateTag'] = '<fresh>'
        return data
    assert load(recorded) == load(live), 'request bodies differ'


def _cassette_library():
    library = vcr.VCR(cassette_library_dir=RECORDINGS, record_mode='all' if RECORDING else 'none',
                      match_on=['method', 'scheme', 'host', 'port', 'path', 'query', 'json_body'],
                      before_record_request=_scrub_request, before_record_response=_scrub_response,
                      decode_compressed_response=True, filter_headers=['authorization'])
    library.register_matcher('json_body', _json_body_matcher)
    return library


def _send_to_sandbox(original_send):
    """Record mode: what az addresses to the public cloud goes to the sandbox's ARM endpoint instead."""
    token = os.environ['ACRTRANSFER_RECORD_TOKEN']

    def send(adapter, request, **kwargs):
        if request.url.startswith(PUBLIC_ARM):
            request.url = SANDBOX_ARM + request.url[len(PUBLIC_ARM):]
            request.url = request.url.replace(SUBSCRIPTION, SANDBOX_SUBSCRIPTION)
            if request.body:
                request.body = _text(request.body).replace(SUBSCRIPTION, SANDBOX_SUBSCRIPTION).encode('utf-8')
                request.headers['Content-Length'] = str(len(request.body))
        if 'Authorization' in request.headers:
            request.headers['Authorization'] = 'Bearer ' + token
        return original_send(adapter, request, **kwargs)
    return send


class Scenario:
    """Runs az commands of one scenario inside its cassette."""

    def __init__(self, variables):
        self.variables = variables

    @staticmethod
    def az(*argv, output='json'):
        return run_az(list(argv), output=output)

    def grant_key_vault_access(self, principal_id):
        """Not ours to record: in record mode the real az grants secret get; in playback its effect is in the
        recorded responses of the runs that follow."""
        if not RECORDING:
            return
        env = dict(os.environ, AZURE_CONFIG_DIR=os.environ['ACRTRANSFER_SANDBOX_AZURE_CONFIG_DIR'])
        env.pop('AZURE_EXTENSION_DIR', None)
        subprocess.run(['az', 'keyvault', 'set-policy', '--name', self.variables['vault'],
                        '--secret-permissions', 'get', '--object-id', principal_id, '--output', 'none'],
                       env=env, check=True, timeout=120)


@contextmanager
def scenario(name):
    """The cassette `recordings/<name>.yaml`; polling waits are skipped in playback."""
    variables = scenario_variables()
    patches = []
    if RECORDING:
        # vcrpy's record_mode 'all' appends to an existing cassette; a re-recording must start from nothing.
        cassette_path = os.path.join(RECORDINGS, name + '.yaml')
        if os.path.exists(cassette_path):
            os.remove(cassette_path)
        import requests  # pylint: disable=import-outside-toplevel
        patches.append(mock.patch('requests.adapters.HTTPAdapter.send',
                                  _send_to_sandbox(requests.adapters.HTTPAdapter.send)))
    else:
        patches.append(mock.patch('time.sleep', lambda _seconds: None))
    for patch in patches:
        patch.start()
    try:
        with _cassette_library().use_cassette(name + '.yaml', allow_playback_repeats=False) as cassette:
            yield Scenario(variables)
            if not RECORDING:
                assert cassette.all_played, 'some recorded requests were never sent'
    finally:
        for patch in reversed(patches):
            patch.stop()
