# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A strict HTTP stand-in: answers requests from a list of recorded interactions, in order.

Every request must match the next interaction (method, full URL with api-version, JSON-equal body); anything
else is recorded as a mismatch and answered with a 599, so the command fails and the test sees why.
"""

import io
import json
import threading
from contextlib import contextmanager
from unittest import mock

import requests
import urllib3
from requests.structures import CaseInsensitiveDict


class StrictReplay:
    def __init__(self, interactions):
        self.pending = list(interactions)
        self.sent = []
        self.mismatches = []

    def answer(self, request):
        body = request.body.decode('utf-8') if isinstance(request.body, bytes) else request.body
        self.sent.append((request.method, request.url, body))
        if not self.pending:
            return self._fail(request, 'unexpected request {} {} (no interaction left)'.format(
                request.method, request.url))
        expected = self.pending[0]
        problem = mismatch(expected, request.method, request.url, body)
        if problem:
            return self._fail(request, problem)
        self.pending.pop(0)
        return _response(request, expected['status'], expected.get('response_headers') or {},
                         expected.get('response_body') or '')

    def _fail(self, request, problem):
        self.mismatches.append(problem)
        return _response(request, 599, {'content-type': 'text/plain'}, problem)


def mismatch(expected, method, url, body):
    if method != expected['method']:
        return 'expected {} {}, got {} {}'.format(expected['method'], expected['uri'], method, url)
    if url != expected['uri']:
        return 'expected URL {}, got {}'.format(expected['uri'], url)
    want = expected.get('request_body')
    if want is None:
        if body:
            return 'expected no body for {} {}, got {}'.format(method, url, body)
        return None
    if body is None or json.loads(body) != json.loads(want):
        return 'body of {} {} differs:\n  expected {}\n  got      {}'.format(method, url, want, body)
    return None


def _response(request, status, headers, body):
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers)
    content = body.encode('utf-8')
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(content), headers=headers, status=status,
                                        preload_content=False)
    response._content = content  # pylint: disable=protected-access
    response.url = request.url
    response.request = request
    response.reason = 'OK' if status < 400 else 'Error'
    response.encoding = 'utf-8'
    return response


@contextmanager
def strict_replay(interactions):
    replay = StrictReplay(interactions)
    with mock.patch('requests.adapters.HTTPAdapter.send', lambda _adapter, request, **_: replay.answer(request)):
        yield replay


@contextmanager
def started_threads():
    """The names of the threads started inside the block. A poller runs in a thread of its own, so "no thread was
    started" proves that nothing polls later, where sleeping a while and seeing no request proves nothing."""
    names = []
    real_start = threading.Thread.start

    def start(thread):
        names.append(thread.name)
        return real_start(thread)

    with mock.patch.object(threading.Thread, 'start', start):
        yield names
