# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Every input rule of the extension, as functions of the parsed namespace.

They run before any request is sent and refuse bad input with a typed error that states the rule and shows a
valid example (upstream only warns and sends the request anyway). They also normalise what they accept, so
the custom functions only assemble models: URIs lower-cased, option names in the service's casing, the
storage access mode inferred, `:latest` added to bare repositories.
"""

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

from azure.cli.core.azclierror import (
    ArgumentUsageError,
    FileOperationError,
    InvalidArgumentValueError,
    MutuallyExclusiveArgumentError,
    RequiredArgumentMissingError,
)

from ._wire import EXPORT_OPTIONS, IMPORT_OPTIONS, MANAGED_IDENTITY, SAS_TOKEN, SYSTEM_IDENTITY

MAX_ARTIFACTS = 50

# Every pattern is applied with fullmatch: `$` would also match before a trailing newline.
NAME_RE = re.compile(r'[a-zA-Z0-9]{5,50}')
# Runs the service creates from a source trigger carry an underscore, and must stay reachable by show/delete.
EXISTING_RUN_NAME_RE = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_-]{0,259}')
# ARM's rule: 1-90 of letters, digits (Unicode ones too: ARM checks with .NET's \w), '_', '(', ')', '-', '.'; not
# ending in '.'.
RESOURCE_GROUP_RE = re.compile(r'[-\w.()]{0,89}[-\w()]')
ACCOUNT_NAME_RE = re.compile(r'[a-z0-9]{3,24}')
CONTAINER_NAME_RE = re.compile(r'(?=.{3,63}\Z)[a-z0-9]+(-[a-z0-9]+)*')
SECRET_PATH_RE = re.compile(r'/secrets/[0-9a-z-]{1,127}(/[0-9a-z]{1,64})?/?')
HOST_LABEL_RE = re.compile(r'[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?')
# A user-assigned identity: subscription GUID, resource group by ARM's rule, name of 3-128 (Azure's rule: letters,
# digits, '-' and '_', starting with a letter or digit).
USER_IDENTITY_RE = re.compile(
    r'/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/resourcegroups/(?P<group>[^/]+)'
    r'/providers/microsoft\.managedidentity/userassignedidentities/[a-z0-9][a-z0-9_-]{2,127}',
    re.IGNORECASE)
_REPOSITORY_COMPONENT = r'[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*'
ARTIFACT_RE = re.compile(
    r'(?P<repository>{c}(?:/{c})*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}))?'
    r'(?:@(?P<digest>sha256:[a-f0-9]{{64}}))?'.format(c=_REPOSITORY_COMPONENT))
# Azure's blob name rules: 1-1024 characters, at most 254 path segments, none of them '.' or '..' (they would
# name another blob once the URL is resolved), not ending in '.' or '/'.
MAX_BLOB_NAME_LENGTH = 1024
MAX_BLOB_SEGMENTS = 254
MAX_REPOSITORY_LENGTH = 255

NAME_RULE = "use 5-50 letters and digits, e.g. '{}'"
RESOURCE_GROUP_RULE = ("use 1-90 letters, digits, '_', '(', ')', '-' and '.', not ending in '.', "
                       "e.g. 'my-resource-group'")
CONTROL_CHARACTERS = ("Invalid {option}: it contains a control character ({character}) at position {position}. "
                      "Type the value again without it (a pasted value may carry a newline or a tab).")
BLOB_RULE = ("give the blob's name in the pipeline's storage container: 1-1024 characters, at most 254 '/'-separated "
             "segments, no '.' or '..' segment, not ending in '.' or '/', e.g. --storage-blob myexport.tar")
STORAGE_CONTAINER_URI_RULE = (
    "expected https://<account>.blob.<storage suffix>/<container> (or https://<host>/<account>/<container> for "
    "path-style emulator or Azure Stack endpoints; an IP-address host needs both), no user name or password, a "
    "valid host and port, a container name of 3-63 lowercase letters, digits and "
    "single hyphens, e.g. https://mystorage.blob.core.windows.net/transfer")
SECRET_URI_RULE = ("expected https://<vault host>[:<port>]/secrets/<name>[/<version>] without a user name, query or "
                   "fragment, "
                   "e.g. https://myvault.vault.azure.net/secrets/acrexportsas")
IDENTITY_RULE = ("expected '[system]' or the resource id of a user-assigned identity (no query, fragment or '..'), "
                 "e.g. /subscriptions/<subscription GUID>/resourceGroups/<rg>/providers/"
                 "Microsoft.ManagedIdentity/userAssignedIdentities/<name>")
ARTIFACT_RULE = ("expected <repository>[:<tag>] or <repository>@sha256:<64 hex digits>: a lowercase repository path "
                 "(letters, digits, and . _ __ - between them, components joined by /), a tag of 1-128 of "
                 "[A-Za-z0-9_.-] not starting with . or -; e.g. hello-world:latest or "
                 "hello-world@sha256:90659bf80b44ce6be8234e6ff90a1ac34acbeb826903b02cfa0da11c82cbc042")
MISSING_ACCESS_MODE = ("Specify how the pipeline reaches the storage container: --storage-access-mode ManagedIdentity "
                       "(the pipeline identity needs a role on the storage account), or --secret-uri <Key Vault "
                       "secret URI holding a SAS token> (SasToken mode).")
MANAGED_IDENTITY_WITH_SECRET = ("--secret-uri cannot be used with --storage-access-mode ManagedIdentity: in "
                                "ManagedIdentity mode the pipeline identity reaches storage directly. Drop "
                                "--secret-uri, or use --storage-access-mode SasToken.")
WAIT_TARGET_RULE = ("pipeline-run wait: {}: --name <run>, or --pipeline <import pipeline> --storage-blob <blob> "
                    "for the run the pipeline's source trigger starts for that blob.")
SAS_TOKEN_WITHOUT_SECRET = ("--storage-access-mode SasToken needs --secret-uri: the Key Vault secret that holds the "
                            "SAS token, e.g. https://myvault.vault.azure.net/secrets/acrexportsas")
EXISTING_RUN_NAME_RULE = "use letters, digits, '_' and '-' (up to 260), e.g. '{}'"
NAME_PREFIX_RULE = "use 2-47 letters and digits (the runs are <prefix>001, <prefix>002, ...), e.g. '{}'"
INVALID_VALUE = "Invalid {option} '{value}': {rule}."
CONTAINER_URI_WITH_QUERY = ("Invalid --storage-container-uri '{}': it must not carry a query string or fragment. Keep "
                            "SAS tokens in Key Vault and pass the secret with --secret-uri; {}.")
INVALID_OPTION = ("Invalid --options value '{value}' for an {kind} pipeline: allowed values are {allowed}, e.g. "
                  "--options {example}.")
ARTIFACTS_ON_IMPORT_RUN = ("--artifacts applies to export runs only: an import run imports every artifact in the "
                           "blob. Drop --artifacts, or use --pipeline-type export.")
EXPORT_RUN_WITHOUT_ARTIFACTS = ("An export run needs --artifacts: 1-{} space-separated references, e.g. --artifacts "
                                "hello-world:latest hello-world@sha256:<digest>.")
TOO_MANY_ARTIFACTS = "Too many --artifacts: {} given, a run exports at most {}. Split them over several runs."
EMPTY_BLOB = '--storage-blob must not be empty: {}.'
INVALID_BLOB = "Invalid --storage-blob '{}' ({} characters): {}."
INVALID_TOP = ("Invalid --top '{}': give a positive integer, the number of most recent runs to list, e.g. "
               "--top 10.")
EXPORT_OPTIONS_ON_IMPORT_BATCH = ("{given} appl{ending} to export batches only: an import batch imports every "
                                  "artifact of its blobs. Drop {dropped}, or use --pipeline-type export.")
UNREADABLE_FILE = "Cannot read {option} '{path}': {reason}."
INVALID_FILE_REFERENCE = "Invalid reference '{}' on line {} of --artifacts-file '{}': {}."
INVALID_MANIFEST = ("Invalid --manifest-file '{}': {}. Give the manifest `az acr pipeline-run create-batch "
                    "--pipeline-type export --manifest-file` wrote.")
UNWRITABLE_MANIFEST = "Cannot write --manifest-file '{}': give a file path in an existing directory."
BLOBS_ON_EXPORT_BATCH = ("--storage-blobs applies to import batches only: an export batch names its blobs "
                         "<--storage-blob-prefix>-<index>. Drop --storage-blobs, or use --pipeline-type import.")
INVALID_BLOB_PREFIX = ("Invalid --storage-blob-prefix '{}': the batches' blobs are <prefix>-001, <prefix>-002, ...; "
                       "give 1-{} characters, at most {} '/'-separated segments, no '.' or '..' segment, not ending "
                       "in '.' or '/', e.g. --storage-blob-prefix release42")
INVALID_REPOSITORY = ("Invalid --repository '{}': expected a lowercase repository path, e.g. hello-world or "
                      "team/app.")
TAG_FILTER_WITHOUT_REPOSITORY = '--tag-filter selects tags of --repository: give --repository too.'
INVALID_TAG_FILTER = "Invalid --tag-filter '{}': not a regular expression ({}); e.g. --tag-filter '^v1\\.'"
EXPORT_BATCH_WITHOUT_ARTIFACTS = ("An export batch needs artifacts: --artifacts a b c ..., --artifacts-file FILE (one "
                                  "reference a line) and/or --repository REPO [--tag-filter RE].")
IMPORT_BATCH_SOURCE = ("An import batch needs exactly one of --storage-blobs b1 b2 ... and --manifest-file FILE (the "
                       "manifest of the export batch).")
INVALID_CONCURRENCY = "Invalid --max-concurrent-runs '{}': give 1-{} (default {})."
WAIT_BOTH_TARGETS = 'give either --name or --pipeline with --storage-blob, not both'
WAIT_NO_TARGET = 'say which run to wait for'
INVALID_TIMEOUT = "Invalid --timeout '{}': give a positive number of seconds, e.g. --timeout 1800."


# ---- names -------------------------------------------------------------------------------------------------

def _check_name(value, option, example, pattern=NAME_RE, rule=NAME_RULE):
    if value is not None and not pattern.fullmatch(value):
        raise InvalidArgumentValueError(INVALID_VALUE.format(option=option, value=value, rule=rule.format(example)))


def refuse_control_characters(namespace):
    """No argument may carry a control or invisible format character: some parsers (urlsplit) drop them before
    a check while the raw value would be sent."""
    for name, value in sorted(vars(namespace).items()):
        if name.startswith('_'):
            continue
        for text in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(text, str):
                _refuse_control_characters(_option_of(name), text)


def _refuse_control_characters(option, text):
    for position, character in enumerate(text):
        if unicodedata.category(character) in ('Cc', 'Cf', 'Zl', 'Zp'):
            raise InvalidArgumentValueError(CONTROL_CHARACTERS.format(
                option=option, character='U+{:04X}'.format(ord(character)), position=position))


def _option_of(dest):
    return {'resource_group_name': '--resource-group', 'registry_name': '--registry', 'run_name': '--name',
            'pipeline_name': '--name/--pipeline'}.get(dest, '--' + dest.replace('_', '-'))


def validate_resource_group(namespace):
    value = getattr(namespace, 'resource_group_name', None)
    if value is not None and not RESOURCE_GROUP_RE.fullmatch(value):
        raise InvalidArgumentValueError(INVALID_VALUE.format(option='--resource-group', value=value,
                                                             rule=RESOURCE_GROUP_RULE))


def validate_registry_name(namespace):
    """Every command's first check: no control characters anywhere, then resource group and registry."""
    refuse_control_characters(namespace)
    validate_resource_group(namespace)
    _check_name(namespace.registry_name, '--registry', 'myregistry')


def validate_existing_pipeline(namespace):
    validate_registry_name(namespace)
    _check_name(namespace.pipeline_name, '--name', 'mypipeline')


# ---- pipelines ---------------------------------------------------------------------------------------------

def normalize_storage_container_uri(value):
    """Lower-case and check a storage container URI; never echo a query string (it may hold a SAS token)."""
    _refuse_control_characters('--storage-container-uri', value)
    uri = value.strip().lower()
    parts = urlsplit(uri)
    shown = _shown(parts)
    if parts.query or parts.fragment:
        raise InvalidArgumentValueError(CONTAINER_URI_WITH_QUERY.format(shown, STORAGE_CONTAINER_URI_RULE))
    if parts.scheme != 'https' or not _has_valid_authority(parts):
        raise _invalid_container_uri(shown)
    segments = [s for s in parts.path.split('/') if s]
    container = None
    if len(segments) == 1 and not _is_emulator_host(parts.hostname):
        container = segments[0]
    elif len(segments) == 2 and _is_path_style_host(parts.hostname) and ACCOUNT_NAME_RE.fullmatch(segments[0]):
        container = segments[1]
    if container is None or not CONTAINER_NAME_RE.fullmatch(container):
        raise _invalid_container_uri(shown)
    return '{}://{}/{}'.format(parts.scheme, parts.netloc, '/'.join(segments))


def _invalid_container_uri(shown):
    return InvalidArgumentValueError(INVALID_VALUE.format(option='--storage-container-uri', value=shown,
                                                          rule=STORAGE_CONTAINER_URI_RULE))


def _shown(parts):
    """A URI as an error message may repeat it: without user info, query or fragment, which may carry secrets."""
    if not parts.netloc:
        return '<the given value>'
    return '{}://{}{}'.format(parts.scheme, parts.netloc.rpartition('@')[2], parts.path)


def _has_valid_authority(parts):
    """A host name of DNS labels or an IP address, an optional port of 1-65535, and no user name or password."""
    if '@' in parts.netloc or not parts.hostname:
        return False
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        return False
    if port == 0 or parts.netloc.endswith(':'):
        return False
    if _is_ip_address(parts.hostname):
        return True
    labels = parts.hostname.split('.')
    return len(parts.hostname) <= 253 and all(HOST_LABEL_RE.fullmatch(label) for label in labels)


def _is_ip_address(hostname):
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        return False


def _is_emulator_host(hostname):
    """The storage emulator's hosts serve accounts path-style only: a single segment names an account."""
    return _is_ip_address(hostname) or hostname == 'localhost'


def _is_path_style_host(hostname):
    """Account-in-path URLs exist for the storage emulator and Azure Stack, never for <account>.blob.* hosts."""
    return _is_ip_address(hostname) or '.blob.' not in hostname


def normalize_secret_uri(value):
    _refuse_control_characters('--secret-uri', value)
    uri = value.strip().lower()
    parts = urlsplit(uri)
    if parts.scheme != 'https' or not _has_valid_authority(parts) or parts.query or parts.fragment \
            or not SECRET_PATH_RE.fullmatch(parts.path):
        raise InvalidArgumentValueError(INVALID_VALUE.format(option='--secret-uri', value=_shown(parts),
                                                             rule=SECRET_URI_RULE))
    return uri


def infer_storage_access_mode(access_mode, secret_uri):
    if access_mode is None:
        if secret_uri is None:
            raise RequiredArgumentMissingError(MISSING_ACCESS_MODE)
        return SAS_TOKEN
    if access_mode == MANAGED_IDENTITY and secret_uri is not None:
        raise MutuallyExclusiveArgumentError(MANAGED_IDENTITY_WITH_SECRET)
    if access_mode == SAS_TOKEN and secret_uri is None:
        raise RequiredArgumentMissingError(SAS_TOKEN_WITHOUT_SECRET)
    return access_mode


def normalize_options(values, allowed, kind):
    """Accept option names in any casing, answer with the service's casing, drop repeats."""
    canonical = {name.lower(): name for name in allowed}
    result = []
    for value in values or []:
        name = canonical.get(value.lower())
        if name is None:
            raise InvalidArgumentValueError(INVALID_OPTION.format(value=value, kind=kind, allowed=', '.join(allowed),
                                                                  example=allowed[0]))
        if name not in result:
            result.append(name)
    return result


def normalize_assign_identity(value):
    """None or '[system]' (any case) mean system-assigned (None); a user identity id is kept exactly as given."""
    if value is None or value.strip().lower() == SYSTEM_IDENTITY:
        return None
    _refuse_control_characters('--assign-identity', value)
    match = USER_IDENTITY_RE.fullmatch(value.strip())
    if not match or not RESOURCE_GROUP_RE.fullmatch(match.group('group')):
        shown = value.split('?')[0].split('#')[0]
        raise InvalidArgumentValueError(INVALID_VALUE.format(option='--assign-identity', value=shown,
                                                             rule=IDENTITY_RULE))
    return value.strip()


def _validate_pipeline_create(namespace, allowed_options, kind):
    validate_registry_name(namespace)
    _check_name(namespace.pipeline_name, '--name', 'mypipeline')
    namespace.storage_container_uri = normalize_storage_container_uri(namespace.storage_container_uri)
    if namespace.secret_uri is not None:
        namespace.secret_uri = normalize_secret_uri(namespace.secret_uri)
    namespace.storage_access_mode = infer_storage_access_mode(namespace.storage_access_mode, namespace.secret_uri)
    namespace.options = normalize_options(namespace.options, allowed_options, kind)
    namespace.assign_identity = normalize_assign_identity(namespace.assign_identity)


def validate_export_pipeline_create(namespace):
    _validate_pipeline_create(namespace, EXPORT_OPTIONS, 'export')


def validate_import_pipeline_create(namespace):
    _validate_pipeline_create(namespace, IMPORT_OPTIONS, 'import')


# ---- pipeline-runs -----------------------------------------------------------------------------------------

def normalize_artifact(value):
    """Check one OCI reference; a bare repository means its `latest` tag, as docker pull would."""
    match = ARTIFACT_RE.fullmatch(value)
    if not match or len(match.group('repository')) > MAX_REPOSITORY_LENGTH:
        raise InvalidArgumentValueError(INVALID_VALUE.format(option='--artifacts value', value=value,
                                                             rule=ARTIFACT_RULE))
    if match.group('tag') is None and match.group('digest') is None:
        return value + ':latest'
    return value


def normalize_artifacts(values, pipeline_type):
    if pipeline_type == 'import':
        if values:
            raise ArgumentUsageError(ARTIFACTS_ON_IMPORT_RUN)
        return []
    if not values:
        raise RequiredArgumentMissingError(EXPORT_RUN_WITHOUT_ARTIFACTS.format(MAX_ARTIFACTS))
    if len(values) > MAX_ARTIFACTS:
        raise InvalidArgumentValueError(TOO_MANY_ARTIFACTS.format(len(values), MAX_ARTIFACTS))
    return [normalize_artifact(value) for value in values]


def validate_pipeline_run_create(namespace):
    validate_registry_name(namespace)
    _check_name(namespace.pipeline_name, '--pipeline', 'mypipeline')
    _check_name(namespace.run_name, '--name', 'myrun01')
    validate_blob_name(namespace.storage_blob)
    if getattr(namespace, 'include_referrers', False) and namespace.pipeline_type == 'import':
        raise ArgumentUsageError(INCLUDE_REFERRERS_EXPORT_ONLY)
    namespace.artifacts = normalize_artifacts(namespace.artifacts, namespace.pipeline_type)


INCLUDE_REFERRERS_EXPORT_ONLY = ("--include-referrers applies to export runs only: an import run imports every "
                                 "artifact of its blob, referrers included. Drop --include-referrers, or use "
                                 "--pipeline-type export.")


def validate_blob_name(value):
    if not value or not value.strip():
        raise InvalidArgumentValueError(EMPTY_BLOB.format(BLOB_RULE))
    segments = value.split('/')
    if len(value) > MAX_BLOB_NAME_LENGTH or len(segments) > MAX_BLOB_SEGMENTS \
            or any(segment in ('.', '..') for segment in segments) or value.endswith(('.', '/')):
        shown = value if len(value) <= 80 else value[:77] + '...'
        raise InvalidArgumentValueError(INVALID_BLOB.format(shown, len(value), BLOB_RULE))


def validate_existing_run(namespace):
    validate_registry_name(namespace)
    _check_name(namespace.run_name, '--name', 'myrun01', EXISTING_RUN_NAME_RE, EXISTING_RUN_NAME_RULE)


def validate_pipeline_run_list(namespace):
    validate_registry_name(namespace)
    _check_name(namespace.pipeline_name, '--pipeline', 'mypipeline')
    if namespace.top is not None and namespace.top < 1:
        raise InvalidArgumentValueError(INVALID_TOP.format(namespace.top))


# ---- pipeline-run create-batch ----------------------------------------------------------------------------

NAME_PREFIX_RE = re.compile(r'^[a-zA-Z0-9]{2,47}$')  # + a 3-digit index: the 5-50 letters and digits of a run name
REPOSITORY_RE = re.compile(r'^{c}(?:/{c})*$'.format(c=_REPOSITORY_COMPONENT))
MAX_BLOB_PREFIX_LENGTH = MAX_BLOB_NAME_LENGTH - 5   # + '-' and a 3-digit index: Azure's 1024 characters
# Concurrency: 5 runs overlap the runs' waiting (benchmarks/batch_concurrency.py: 2.6x faster than one at a time
# in the sandbox) while past a few runs they mostly share the same registry egress and storage bandwidth; at most
# 250 artifacts are in flight when something fails; and the batch's ARM reads (an LRO poll every 5 s and a progress
# GET every 10 s per run, about 5,400 an hour) stay under half of ARM's classic 12,000 reads per hour and
# subscription (a guess at what matters: newer token-bucket limits are higher).
DEFAULT_MAX_CONCURRENT_RUNS = 5
MAX_CONCURRENT_RUNS = 20


def _refuse_export_options(options):
    given = [option for option, value in options if value]
    if given:
        raise ArgumentUsageError(EXPORT_OPTIONS_ON_IMPORT_BATCH.format(
            given=', '.join(given), ending='ies' if len(given) == 1 else 'y', dropped=' '.join(given)))


def _artifacts_of_file(path):
    from ._batch_plan import parse_artifacts_file
    try:
        with open(path, encoding='utf-8-sig') as handle:
            lines = parse_artifacts_file(handle.read())
    except (OSError, UnicodeDecodeError) as error:
        raise FileOperationError(UNREADABLE_FILE.format(option='--artifacts-file', path=path,
                                                        reason=getattr(error, 'strerror', None) or error)) from None
    references = []
    for number, reference in lines:
        try:
            references.append(normalize_artifact(reference))
        except InvalidArgumentValueError:
            raise InvalidArgumentValueError(INVALID_FILE_REFERENCE.format(reference, number, path,
                                                                          ARTIFACT_RULE)) from None
    return references


def read_batch_manifest(path):
    """The export manifest an import batch starts from; a clear error when it cannot be one."""
    from ._batch_plan import ManifestError, parse_manifest
    try:
        with open(path, encoding='utf-8') as handle:
            return parse_manifest(handle.read())
    except (OSError, UnicodeDecodeError) as error:
        raise FileOperationError(UNREADABLE_FILE.format(option='--manifest-file', path=path,
                                                        reason=getattr(error, 'strerror', None) or error)) from None
    except ManifestError as error:
        raise InvalidArgumentValueError(INVALID_MANIFEST.format(path, error)) from None


def _check_manifest_destination(path):
    import os
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(directory):
        raise FileOperationError(UNWRITABLE_MANIFEST.format(path))


def _validate_export_batch(namespace):
    if namespace.storage_blobs:
        raise ArgumentUsageError(BLOBS_ON_EXPORT_BATCH)
    prefix = (namespace.storage_blob_prefix or '').strip()
    segments = prefix.split('/')
    if not prefix or prefix.endswith(('/', '.')) or len(prefix) > MAX_BLOB_PREFIX_LENGTH \
            or len(segments) > MAX_BLOB_SEGMENTS or any(segment in ('.', '..') for segment in segments):
        raise InvalidArgumentValueError(INVALID_BLOB_PREFIX.format(prefix[:80], MAX_BLOB_PREFIX_LENGTH,
                                                                   MAX_BLOB_SEGMENTS))
    namespace.storage_blob_prefix = prefix
    references = [normalize_artifact(value) for value in namespace.artifacts or []]
    if namespace.artifacts_file:
        references += _artifacts_of_file(namespace.artifacts_file)
    for repository in namespace.repository or []:
        if not REPOSITORY_RE.fullmatch(repository) or len(repository) > MAX_REPOSITORY_LENGTH:
            raise InvalidArgumentValueError(INVALID_REPOSITORY.format(repository))
    if namespace.tag_filter is not None:
        if not namespace.repository:
            raise ArgumentUsageError(TAG_FILTER_WITHOUT_REPOSITORY)
        try:
            re.compile(namespace.tag_filter)
        except re.error as error:
            raise InvalidArgumentValueError(INVALID_TAG_FILTER.format(namespace.tag_filter, error)) from None
    if not references and not namespace.repository:
        raise RequiredArgumentMissingError(EXPORT_BATCH_WITHOUT_ARTIFACTS)
    namespace.artifacts = list(dict.fromkeys(references))
    if namespace.manifest_file:
        _check_manifest_destination(namespace.manifest_file)
    if getattr(namespace, 'since_manifest', None):
        _check_base_manifest(namespace.since_manifest)


def _check_base_manifest(path):
    """--since-manifest must be an export manifest that records digests (read again when the batch is planned)."""
    from ._product import ProductError, read_base_manifest
    try:
        read_base_manifest(path)
    except ProductError as error:
        raise InvalidArgumentValueError(str(error)) from None


def _validate_import_batch(namespace):
    _refuse_export_options((('--artifacts', namespace.artifacts), ('--artifacts-file', namespace.artifacts_file),
                            ('--repository', namespace.repository), ('--tag-filter', namespace.tag_filter),
                            ('--storage-blob-prefix', namespace.storage_blob_prefix),
                            ('--include-referrers', getattr(namespace, 'include_referrers', False)),
                            ('--since-manifest', getattr(namespace, 'since_manifest', None))))
    if bool(namespace.storage_blobs) == bool(namespace.manifest_file):
        raise MutuallyExclusiveArgumentError(IMPORT_BATCH_SOURCE)
    for blob in namespace.storage_blobs or []:
        validate_blob_name(blob)
    if namespace.manifest_file:
        read_batch_manifest(namespace.manifest_file)


def validate_pipeline_run_create_batch(namespace):
    validate_registry_name(namespace)
    _check_name(namespace.pipeline_name, '--pipeline', 'mypipeline')
    _check_name(namespace.name_prefix, '--name-prefix', 'release42', NAME_PREFIX_RE, NAME_PREFIX_RULE)
    if namespace.max_concurrent_runs is not None and not 1 <= namespace.max_concurrent_runs <= MAX_CONCURRENT_RUNS:
        raise InvalidArgumentValueError(INVALID_CONCURRENCY.format(namespace.max_concurrent_runs, MAX_CONCURRENT_RUNS,
                                                                   DEFAULT_MAX_CONCURRENT_RUNS))
    if namespace.pipeline_type == 'import':
        _validate_import_batch(namespace)
    else:
        _validate_export_batch(namespace)


def validate_pipeline_run_verify(namespace):
    """Exactly one of --manifest-file (an export manifest) and --name (a run of this registry)."""
    validate_registry_name(namespace)
    if bool(namespace.manifest_file) == bool(namespace.run_name):
        raise MutuallyExclusiveArgumentError("Say what to verify with exactly one of --manifest-file FILE (the "
                                             "manifest `create-batch --manifest-file` wrote at export) and --name "
                                             "RUN.")
    if namespace.run_name:
        validate_existing_run(namespace)
    else:
        read_batch_manifest(namespace.manifest_file)


# ---- check -------------------------------------------------------------------------------------------------

def validate_pipeline_check(namespace):
    """check takes the --storage-blob and --artifacts of the run it prepares, with the same rules."""
    validate_existing_pipeline(namespace)
    if namespace.storage_blob is not None:
        validate_blob_name(namespace.storage_blob)
    if getattr(namespace, 'artifacts', None):
        namespace.artifacts = normalize_artifacts(namespace.artifacts, 'export')


def validate_pipeline_run_wait(namespace):
    """Either -n <run>, or --pipeline <import pipeline> with --storage-blob <blob> (the run its trigger starts)."""
    validate_registry_name(namespace)
    by_blob = namespace.pipeline_name is not None or namespace.storage_blob is not None
    if namespace.run_name is not None and by_blob:
        raise MutuallyExclusiveArgumentError(WAIT_TARGET_RULE.format(WAIT_BOTH_TARGETS))
    if namespace.run_name is None and (namespace.pipeline_name is None or not namespace.storage_blob):
        raise RequiredArgumentMissingError(WAIT_TARGET_RULE.format(WAIT_NO_TARGET))
    if namespace.run_name is not None:
        validate_existing_run(namespace)
    else:
        _check_name(namespace.pipeline_name, '--pipeline', 'mypipeline')
        validate_blob_name(namespace.storage_blob)
    if namespace.timeout is not None and namespace.timeout < 1:
        raise InvalidArgumentValueError(INVALID_TIMEOUT.format(namespace.timeout))
