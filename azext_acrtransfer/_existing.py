# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""An existing pipeline or run: get it, or delete it, with a not-found error that names what does exist."""

from azure.cli.core.azclierror import ResourceNotFoundError

from ._format import start_time_of
from ._wire import EXPORT_PIPELINES, IMPORT_PIPELINES, PIPELINE_RUNS

RESOURCE_NOUNS = {EXPORT_PIPELINES: 'Export pipeline', IMPORT_PIPELINES: 'Import pipeline',
                  PIPELINE_RUNS: 'Pipeline run'}
NOT_FOUND = "{noun} '{name}' was not found in registry '{registry}' (resource group '{group}')."
EXISTING_NAMES = "Existing {nouns}: {names}."
NOUN_ORDER = {PIPELINE_RUNS: ' (newest first)', EXPORT_PIPELINES: ' (most like it first)',
              IMPORT_PIPELINES: ' (most like it first)'}
NO_EXISTING_NAMES = "The registry has no {nouns}."
MAX_NAMES_SHOWN = 20


def get_existing(operations, resource_group_name, registry_name, name):
    """GET one resource; a 404 becomes an error that says exactly what was not found where, and what exists."""
    from azure.core.exceptions import ResourceNotFoundError as HttpNotFound
    try:
        return operations.get(resource_group_name, registry_name, name)
    except HttpNotFound:
        raise ResourceNotFoundError(not_found_message(operations, resource_group_name, registry_name, name)) \
            from None


def not_found_message(operations, resource_group_name, registry_name, name):
    noun = RESOURCE_NOUNS[operations.collection]
    message = NOT_FOUND.format(noun=noun, name=name, registry=registry_name, group=resource_group_name)
    existing = existing_names(operations, resource_group_name, registry_name)
    if existing is None:
        return message
    nouns = noun.lower() + 's'
    if not existing:
        return '{} {}'.format(message, NO_EXISTING_NAMES.format(nouns=nouns))
    nouns += NOUN_ORDER.get(operations.collection, '')
    if operations.collection != PIPELINE_RUNS:
        existing = most_like_first(name, existing)
    shown = ', '.join(existing[:MAX_NAMES_SHOWN])
    if len(existing) > MAX_NAMES_SHOWN:
        shown += ' and {} more'.format(len(existing) - MAX_NAMES_SHOWN)
    return '{} {}'.format(message, EXISTING_NAMES.format(nouns=nouns, names=shown))


def most_like_first(name, names):
    """A misspelt pipeline name's likely meaning leads the list, however many pipelines the registry has."""
    import difflib
    close = difflib.get_close_matches(name, names, n=MAX_NAMES_SHOWN, cutoff=0.6)
    return close + [other for other in names if other not in close]


def existing_names(operations, resource_group_name, registry_name):
    """The names in the collection: pipelines by name, runs newest first (the ones a user most likely meant);
    None when they cannot be listed (then the error says less)."""
    from azure.core.exceptions import HttpResponseError
    try:
        items = list(operations.list(resource_group_name, registry_name))
    except HttpResponseError:
        return None
    if operations.collection == PIPELINE_RUNS:
        items.sort(key=start_time_of, reverse=True)
    else:
        items.sort(key=lambda item: (item.get('name') or '').lower())
    return [item.get('name') or '' for item in items]


def delete_existing(operations, resource_group_name, registry_name, name):
    """GET first so a missing resource is reported as such and no DELETE is sent, then DELETE and wait."""
    get_existing(operations, resource_group_name, registry_name, name)
    operations.begin_delete(resource_group_name, registry_name, name).result()
