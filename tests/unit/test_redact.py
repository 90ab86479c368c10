# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
import logging

import pytest
from azure.cli.core.azclierror import AzureResponseError, BadRequestError, UnclassifiedUserFault
from azure.core.exceptions import HttpResponseError

from azext_acrtransfer._redact import RedactingFilter, redact, redacting_exception_handler


@pytest.mark.parametrize('text, expected', [
    ('https://a.blob.core.windows.net/c/b?sv=2024&sig=AbC%2Bd%2F%3D&se=x',
     'https://a.blob.core.windows.net/c/b?sv=2024&sig=REDACTED&se=x'),
    ('GET https://a/c?sv=1&SIG=abc failed', 'GET https://a/c?sv=1&SIG=REDACTED failed'),
    ('src=https%3A%2F%2Fa%2Fc%3Fsv%3D1%26sig%3DAbC%252Bd%26se%3D2 end',
     'src=https%3A%2F%2Fa%2Fc%3Fsv%3D1%26sig%3DREDACTED%26se%3D2 end'),
    ('x%253Fsv%253D1%2526sig%253DSeCrEt%2526se%253D2', 'x%253Fsv%253D1%2526sig%253DREDACTED%2526se%253D2'),
    ('"uri": "https://a/c?sig=abc"', '"uri": "https://a/c?sig=REDACTED"'),
    ("<a href='https://a/c?sig=abc'>", "<a href='https://a/c?sig=REDACTED'>"),
    ('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bXlrZXk=;EndpointSuffix=x',
     'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=REDACTED;EndpointSuffix=x'),
    ('a design=plain text, signature and sigma stay', 'a design=plain text, signature and sigma stay'),
])
def test_signatures_and_account_keys_are_redacted_in_every_encoding(text, expected):
    assert redact(text) == expected


def test_other_values_pass_through():
    assert redact(None) is None and redact('') == '' and redact(3) == 3


def test_the_exception_handler_redacts_service_errors_as_the_az_error_type():
    error = HttpResponseError(message='(InvalidParameter) Blob https://a/c/b?sv=1&sig=TOPSECRET is bad')
    error.status_code = 400
    with pytest.raises(BadRequestError) as raised:
        redacting_exception_handler(error)
    assert 'TOPSECRET' not in str(raised.value) and 'sig=REDACTED' in str(raised.value)
    assert raised.value.__suppress_context__


def test_the_exception_handler_keeps_clean_errors_and_redacts_ours():
    clean = AzureResponseError('nothing secret')
    with pytest.raises(AzureResponseError) as raised:
        redacting_exception_handler(clean)
    assert raised.value is clean
    with pytest.raises(AzureResponseError) as raised:
        redacting_exception_handler(AzureResponseError("Run 'r' failed: https://a/c%3Fsig%3DTOPSECRET%26se%3D1"))
    assert 'TOPSECRET' not in str(raised.value)
    with pytest.raises(UnclassifiedUserFault) as raised:
        redacting_exception_handler(ValueError('https://a/c?sig=TOPSECRET'))
    assert 'TOPSECRET' not in str(raised.value)


def test_the_log_filter_redacts_messages_arguments_and_tracebacks():
    try:
        raise ValueError('https://a/c?sig=INTRACEBACK')
    except ValueError:
        import sys
        record = logging.LogRecord('x', logging.DEBUG, 'f', 1, 'body: %s', ('{"u": "https://a/c?sig=INARGS"}',),
                                   sys.exc_info())
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert 'INARGS' not in text and 'INTRACEBACK' not in text and 'ValueError: https://a/c?sig=REDACTED' in text
