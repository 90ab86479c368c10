# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Secrets never reach the terminal or a log: the one place every output and error path goes through.

Service messages quote storage URLs with their SAS token, plainly (`?sv=...&sig=...`) or URL-encoded inside
another URL (`%26sig%3D...`, twice encoded `%2526sig%253D...`); connection strings carry `AccountKey=`. Three
paths reach the user: command errors (`redacting_exception_handler`, installed on every command group), the
resources a command prints (`_format.flatten_resource`) and az's logging, `--debug` network traces and
tracebacks included (`redact_secrets_in_logs`).
"""

import logging
import re

REDACTED = 'REDACTED'

# The value of a signature ends where the query parameter ends: '&' plain or encoded, whitespace, quotes, or
# the end of a URL in text. A SAS signature is base64, so '%26' never occurs inside one.
_SIGNATURE_RE = re.compile(r'(sig(?:=|%3D|%253D))(?:(?!%26|%2526)[^&\s"\'<>\\])+', re.IGNORECASE)
_ACCOUNT_KEY_RE = re.compile(r'(AccountKey=)[^;\s"\'<>\\]+', re.IGNORECASE)


def redact(text):
    """The text with every SAS signature and account key replaced by REDACTED; other values pass unchanged."""
    if not isinstance(text, str) or not text:
        return text
    return _ACCOUNT_KEY_RE.sub(r'\1' + REDACTED, _SIGNATURE_RE.sub(r'\1' + REDACTED, text))


def redacting_exception_handler(error):
    """Every command's exception handler: re-raise the error with its message redacted, as the az error type
    azure-cli itself would have shown it; the original (with the secret) is not chained, so `--debug`'s
    traceback cannot print it either."""
    from azure.cli.core import azclierror
    from azure.core.exceptions import HttpResponseError
    message = getattr(error, 'message', None) or str(error)
    if isinstance(error, azclierror.AzCLIError):
        if redact(message) == message:
            raise error
        redacted = type(error)(redact(message))
    elif isinstance(error, HttpResponseError):
        from azure.cli.core.util import extract_common_error_message, get_error_type_by_status_code
        message = extract_common_error_message(error) or message
        redacted = get_error_type_by_status_code(str(getattr(error, 'status_code', '')))(redact(message))
    else:
        if redact(message) == message:
            raise error
        redacted = azclierror.UnclassifiedUserFault(redact(message))
    raise redacted from None


class RedactingFilter(logging.Filter):
    """A log record's message and its formatted traceback, redacted before any handler writes them."""

    def filter(self, record):
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# Loggers of the network trace policies az and azure-core use for `--debug`.
NETWORK_TRACE_LOGGERS = ('cli.azure.cli.core.sdk.policies', 'azure.core.pipeline.policies._universal',
                         'azure.core.pipeline.policies.http_logging_policy')


def redact_secrets_in_logs():
    """Filter the network trace loggers and every handler az has set up (a handler filter also sees the records
    that propagate to it from any other logger)."""
    handlers = logging.getLogger().handlers + logging.getLogger('cli').handlers
    for target in [logging.getLogger(name) for name in NETWORK_TRACE_LOGGERS] + handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(RedactingFilter())
