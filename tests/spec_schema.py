# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The official API spec (../shared/spec/definitions.json) as a checker of property names.

`unknown_names(definition, body)` lists every property of `body` that the spec's `definition` does not declare,
following `$ref`s, `allOf` and `additionalProperties`, as dotted paths (`properties.response.finishedTime`).
Only names are checked: where a real recording disagrees with the spec on a value (identity `type` casing),
the recording wins. The spec is read where it lies, never copied (tests/shared_files.py finds it); without it a
test about the spec skips, and the check after a test that is about something else does nothing, counted.
"""

import json
import os
import re

from shared_files import SPEC_DIR, note_spec_check_not_run, require_spec, spec_definitions_path, spec_present

__all__ = ['SPEC_DIR', 'load_definitions', 'definitions_if_present', 'unknown_names', 'definition_for_path',
           'response_log_size', 'unknown_names_in_response_log', 'spec_check_of_response_log']
REF_PREFIX = '#/definitions/'

# The resource documents the ARM API serves, by the path they are served at (method-independent).
_COLLECTION_RE = re.compile(r'/registries/[^/]+/(exportpipelines|importpipelines|pipelineruns)(/[^/]+)?/?$',
                            re.IGNORECASE)
_DEFINITIONS = {'exportpipelines': ('ExportPipeline', 'ExportPipelineListResult'),
                'importpipelines': ('ImportPipeline', 'ImportPipelineListResult'),
                'pipelineruns': ('PipelineRun', 'PipelineRunListResult')}


def load_definitions():
    """The spec's definitions, for a test about the spec: it skips when ../shared/spec is not there."""
    require_spec()
    return _read_definitions()


def definitions_if_present():
    """The spec's definitions, or None when ../shared/spec is not there (the spec check then does nothing)."""
    return _read_definitions() if spec_present() else None


def _read_definitions():
    with open(spec_definitions_path(), encoding='utf-8') as f:
        document = json.load(f)
    return document.get('definitions', document)


def definition_for_path(path):
    """The definition a response body served at `path` must follow, or None for routes outside the spec."""
    match = _COLLECTION_RE.search(path)
    if not match:
        return None
    item, listing = _DEFINITIONS[match.group(1).lower()]
    return item if match.group(2) else listing


def _resolve(definitions, schema):
    while '$ref' in schema:
        ref = schema['$ref']
        if not ref.startswith(REF_PREFIX) or ref[len(REF_PREFIX):] not in definitions:
            raise KeyError('unresolvable $ref {!r}'.format(ref))
        schema = definitions[ref[len(REF_PREFIX):]]
    return schema


def _properties(definitions, schema):
    """Declared properties of an object schema, including those its allOf parents declare."""
    schema = _resolve(definitions, schema)
    declared = {}
    for parent in schema.get('allOf', []):
        declared.update(_properties(definitions, parent))
    declared.update(schema.get('properties', {}))
    return declared


def unknown_names(definitions, definition, body):
    """Dotted paths of every property in `body` that `definition` (a name in the spec) does not declare."""
    found = []
    _walk(definitions, {'$ref': REF_PREFIX + definition}, body, '', found)
    return found


def _walk(definitions, schema, value, path, found):
    schema = _resolve(definitions, schema)
    if isinstance(value, dict):
        declared = _properties(definitions, schema)
        extra = schema.get('additionalProperties')
        for key, item in value.items():
            where = '{}.{}'.format(path, key) if path else key
            if key in declared:
                _walk(definitions, declared[key], item, where, found)
            elif isinstance(extra, dict):
                _walk(definitions, extra, item, where, found)
            else:
                found.append(where)
    elif isinstance(value, list) and 'items' in schema:
        for index, item in enumerate(value):
            _walk(definitions, schema['items'], item, '{}[{}]'.format(path, index), found)


def response_log_size(log_path):
    return os.path.getsize(log_path) if os.path.exists(log_path) else 0


def unknown_names_in_response_log(definitions, log_path, start=0):
    """['<METHOD> <path>: <unknown name>', ...] over a sandbox's ACRSANDBOX_RESPONSE_LOG (2xx JSON bodies),
    from byte offset `start` on (what one test made the sandbox answer)."""
    problems = []
    if not os.path.exists(log_path):
        return problems
    with open(log_path, encoding='utf-8') as f:
        f.seek(start)
        for line in f:
            entry = json.loads(line)
            definition = definition_for_path(entry['path'])
            if definition is None or entry['status'] >= 300 or not isinstance(entry['body'], dict):
                continue
            problems.extend('{} {}: {}'.format(entry['method'], entry['path'], name)
                            for name in unknown_names(definitions, definition, entry['body']))
    return problems


def spec_check_of_response_log(definitions, log_path, start=0):
    """What the spec check after a test finds in the response log; without the spec it only counts itself."""
    if definitions is None:
        note_spec_check_not_run()
        return []
    return unknown_names_in_response_log(definitions, log_path, start)
