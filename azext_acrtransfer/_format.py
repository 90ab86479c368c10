# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Output shaping, in one place: the flattened resource every format shows, and the table rows."""

import re
from collections import OrderedDict
from datetime import datetime, timedelta, timezone

from . import _runs
from ._redact import redact

_TIMESTAMP_RE = re.compile(r'^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$',
                           re.IGNORECASE)
# Service messages run to hundreds of characters; a table cell shows the start, -o json the whole message.
TABLE_MESSAGE_LIMIT = 80


# ---- the resource as users of the original know it --------------------------------------------------------

def flatten_resource(resource):
    """Lift `properties.*` beside id, name, type, identity and systemData; unknown fields pass through.

    Every string is redacted: the run's error message, above all, may quote a storage URL with its SAS token."""
    if not isinstance(resource, dict):
        return _redacted(resource)
    flat = OrderedDict((key, value) for key, value in resource.items() if key != 'properties')
    for key, value in (resource.get('properties') or {}).items():
        flat.setdefault(key, value)
    return OrderedDict((key, _redacted(value)) for key, value in flat.items())


def _redacted(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return type(value)((key, _redacted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def flatten_output(result):
    """Command transform: a resource, a list of them, or nothing (--no-wait, delete)."""
    if isinstance(result, list):
        return [flatten_resource(item) for item in result]
    return flatten_resource(result)


# ---- time ---------------------------------------------------------------------------------------------------

def parse_timestamp(value):
    """ISO 8601 as ARM writes it (up to 7 fractional digits, Z or an offset); None when absent or unreadable."""
    match = _TIMESTAMP_RE.match(value or '')
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    microsecond = int((match.group(7) or '0')[:6].ljust(6, '0'))
    stamp = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=timezone.utc)
    offset = match.group(8)
    if offset and offset.upper() != 'Z':
        sign = -1 if offset[0] == '-' else 1
        digits = offset[1:].replace(':', '')
        stamp -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


def format_start_time(value):
    stamp = parse_timestamp(value)
    return stamp.strftime('%Y-%m-%dT%H:%M:%SZ') if stamp else ''


def format_duration(start, finish):
    """hh:mm:ss between two timestamps (hours may pass 24); empty while the run has not finished."""
    started, finished = parse_timestamp(start), parse_timestamp(finish)
    if not started or not finished:
        return ''
    seconds = max(0, int((finished - started).total_seconds()))
    return '{:02d}:{:02d}:{:02d}'.format(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def start_time_of(run):
    """Sort key for runs as the service returns them: their start time, runs not started yet counting as oldest."""
    response = (run.get('properties') or {}).get('response') or {}
    return parse_timestamp(response.get('startTime')) or datetime.min.replace(tzinfo=timezone.utc)


# ---- tables -------------------------------------------------------------------------------------------------

def _rows(result, to_row):
    return [to_row(item) for item in result] if isinstance(result, list) else to_row(result)


def _export_pipeline_row(pipeline):
    return OrderedDict([('NAME', pipeline.get('name')),
                        ('PROVISIONING_STATE', pipeline.get('provisioningState')),
                        ('STORAGE_ACCOUNT', (pipeline.get('target') or {}).get('uri'))])


def _import_pipeline_row(pipeline):
    trigger = ((pipeline.get('trigger') or {}).get('sourceTrigger') or {}).get('status')
    return OrderedDict([('NAME', pipeline.get('name')),
                        ('PROVISIONING_STATE', pipeline.get('provisioningState')),
                        ('STORAGE_ACCOUNT', (pipeline.get('source') or {}).get('uri')),
                        ('SOURCE_TRIGGER', trigger)])


def is_import_run(run):
    request = run.get('request') or {}
    return 'source' in request or '/importpipelines/' in (request.get('pipelineResourceId') or '').lower()


def started_by_source_trigger(run):
    """The service says so in response.trigger.sourceTrigger; runs it reports without that are told apart by
    the underscore the service puts in the names of the runs it starts."""
    if ((run.get('response') or {}).get('trigger') or {}).get('sourceTrigger'):
        return True
    return is_import_run(run) and '_' in (run.get('name') or '')


def shorten(text, limit=TABLE_MESSAGE_LIMIT):
    """One table cell: whitespace folded, cut at `limit` characters (the full text stays in -o json)."""
    folded = ' '.join((text or '').split())
    return folded if len(folded) <= limit else folded[:limit - 3].rstrip() + '...'


def _pipeline_run_row(run):
    request, response = run.get('request') or {}, run.get('response') or {}
    source_trigger = str(started_by_source_trigger(run)) if is_import_run(run) or response.get('trigger') else ''
    return OrderedDict([('NAME', run.get('name')),
                        ('PIPELINE', (request.get('pipelineResourceId') or '').rstrip('/').split('/')[-1]),
                        ('START_TIME', format_start_time(response.get('startTime'))),
                        ('DURATION', format_duration(response.get('startTime'), response.get('finishTime'))),
                        ('SOURCE_TRIGGER', source_trigger),
                        ('STATUS', _runs.display_status(run)),
                        ('ERROR_MESSAGE', shorten(response.get('pipelineRunErrorMessage')))])


def export_pipeline_table(result):
    return _rows(result, _export_pipeline_row)


def import_pipeline_table(result):
    return _rows(result, _import_pipeline_row)


def pipeline_run_table(result):
    return _rows(result, _pipeline_run_row)


def _pipeline_run_batch_row(item):
    """One row per batch: a run as the service reports it, or (--dry-run) a planned batch."""
    if 'action' in item and 'request' not in item:
        return OrderedDict([('NAME', item.get('name')), ('STORAGE_BLOB', item.get('storageBlob')),
                            ('ARTIFACTS', len(item.get('artifacts') or [])), ('ACTION', item.get('action')),
                            ('REASON', item.get('reason'))])
    request, response = item.get('request') or {}, item.get('response') or {}
    blob = (request.get('target') or request.get('source') or {}).get('name')
    return OrderedDict([('NAME', item.get('name')), ('STORAGE_BLOB', blob),
                        ('ARTIFACTS', len(request.get('artifacts') or response.get('importedArtifacts') or [])),
                        ('STATUS', _runs.display_status(item)),
                        ('START_TIME', format_start_time(response.get('startTime'))),
                        ('DURATION', format_duration(response.get('startTime'), response.get('finishTime'))),
                        ('ERROR_MESSAGE', response.get('pipelineRunErrorMessage') or '')])


def pipeline_run_batch_table(result):
    return _rows(result, _pipeline_run_batch_row)


def _check_row(result):
    return OrderedDict([('NAME', result.get('name')), ('STATUS', result.get('status')),
                        ('DETAIL', result.get('detail')), ('FIX', result.get('fix') or '')])


def check_table(result):
    """`check -o table`: one row per check, in the order they ran."""
    return _rows(result, _check_row)


def _verify_row(result):
    return OrderedDict([('ARTIFACT', result.get('artifact')), ('STATUS', result.get('status')),
                        ('EXPECTED', result.get('expected') or ''), ('FOUND', result.get('found') or '')])


def verify_table(result):
    """`pipeline-run verify -o table`: one row per artifact, in the manifest's order."""
    return _rows(result, _verify_row)
