# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""A SAS token as ACR Transfer needs it: parsing, and one rule per way a token makes runs fail.

The token's value is a secret: nothing here ever puts it, or its signature, into a message. Rules see the parsed
fields only, and messages name fields (se, sp, ...) and their non-secret values.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional
from urllib.parse import parse_qsl

from ._check_result import failed, passed, skipped, warning

EXPIRY_WARNING_DAYS = 7
NEW_TOKEN_DAYS = 30  # how long the token of a fix command is valid

# The order in which az and storage write permissions; a fix's --permissions is written in it.
PERMISSION_ORDER = 'rwdlacup'
EXPORT_PERMISSIONS = 'rwla'
IMPORT_PERMISSIONS = 'rl'
DELETE_PERMISSION = 'd'

_TIME_RE = re.compile(r'^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?)?Z?$', re.IGNORECASE)

NAME_EXPIRY = 'SasExpiry'
NAME_START = 'SasStart'
NAME_PROTOCOL = 'SasProtocol'
NAME_SERVICE = 'SasService'
NAME_RESOURCE_TYPES = 'SasResourceTypes'
NAME_PERMISSIONS = 'SasPermissions'

# Messages and fix commands, formatted where a rule reports them; none of them ever holds the token.
EMPTY_SECRET = 'the secret is empty'
FIELD_TWICE = "the token has the field '{}' twice"
NO_SIGNATURE = 'it is not a SAS token: it has no signature (sig)'
NO_VERSION = 'it is not a SAS token: it has no signed version (sv)'
NOT_A_TIME = "its {} '{}' is not a UTC time like 2030-01-31T00:00Z"
EXPIRY_FROM_POLICY = ("The token takes its expiry from the stored access policy '{}' of the container, which is not "
                      "checked here.")
NO_EXPIRY = 'The token has no expiry (se): storage refuses it.'
EXPIRED = 'The token expired on {} (se).'
EXPIRES_SOON = 'The token expires on {} (se), in {:.1f} days: runs after that fail with a 403.'
VALID_UNTIL = 'Valid until {} (se).'
NO_START = 'No start time (st): valid from its creation.'
NOT_YET_VALID = 'The token is not valid before {} (st): storage refuses it until then.'
VALID_SINCE = 'Valid since {} (st).'
HTTPS_ONLY = 'HTTPS only (spr=https).'
ALLOWS_HTTP = 'The token also allows HTTP ({}): ACR Transfer needs an HTTPS-only token (spr=https).'
ACCOUNT_SAS_FOR_BLOBS = 'An account SAS for the blob service (ss={}).'
ACCOUNT_SAS_WITHOUT_BLOBS = 'An account SAS without the blob service (ss={}): it must contain b.'
CONTAINER_SAS = 'A service SAS for a blob container (sr=c).'
BLOB_SAS = ('A SAS for a single blob (sr=b): pipelines need to list, read and write blobs of the whole '
            'container.')
UNKNOWN_SAS = 'Neither an account SAS (ss, srt) nor a container SAS (sr=c){}.'
ALL_RESOURCE_TYPES = 'Service, container and object level (srt={}).'
MISSING_RESOURCE_TYPES = 'The account SAS lacks resource types {} (srt={}): ACR Transfer needs srt=sco.'
CONTAINER_SAS_RESOURCE_TYPES = ('A container SAS, not an account SAS with srt=sco: runs that only touch blobs of this '
                                'container work with it, but the ACR Transfer documentation asks for an account SAS '
                                '(srt=sco).')
NO_RESOURCE_TYPES = 'Not an account or container SAS (see {}).'
MISSING_PERMISSIONS = 'The token grants sp={} but an {} needs {}: missing {}.'
ENOUGH_PERMISSIONS = 'sp={} covers what an {} needs ({}).'
GENERATE_SAS_COMMAND = ('az storage account generate-sas --account-name {} --services b --resource-types sco '
                        '--permissions {} --expiry {} --https-only --output tsv')
# The token never goes on az's command line (az logs its argv with --debug, and so do shell histories and process
# lists): it goes through a file of the caller's own (umask 077) that az reads with its @file syntax, and is removed.
SAS_FILE = 'acrtransfer-sas.txt'
STORE_SECRET_COMMAND = ('(umask 077 && {generate} > {file}) && az keyvault secret set --vault-name {vault} --name '
                        '{secret} --value @{file} --output none; rm -f {file}')


class SasFormatError(ValueError):
    """The value is not a SAS token; the message says why without repeating the value."""


@dataclass(frozen=True)
class SasToken:
    fields: dict

    def get(self, name):
        return self.fields.get(name)

    @property
    def is_account_sas(self):
        """Account SAS tokens carry ss and srt; service SAS tokens name their resource with sr."""
        return 'ss' in self.fields or 'srt' in self.fields

    @property
    def expiry(self):
        return parse_sas_time(self.get('se'))

    @property
    def start(self):
        return parse_sas_time(self.get('st'))

    @property
    def permissions(self):
        return self.get('sp') or ''


def parse_sas_time(value) -> Optional[datetime]:
    match = _TIME_RE.match(value or '')
    if not match:
        return None
    parts = [int(part) if part else 0 for part in match.groups()]
    try:
        return datetime(*parts, tzinfo=timezone.utc)
    except ValueError:  # well formed but impossible, like se=2030-13-01: storage refuses it as well
        return None


def parse_sas(value) -> SasToken:
    """A SAS token as stored in Key Vault: `sv=...&sig=...`, with or without a leading '?', or a whole URL."""
    text = (value or '').strip()
    if '?' in text:
        text = text.split('?', 1)[1]
    if not text:
        raise SasFormatError(EMPTY_SECRET)
    pairs = parse_qsl(text, keep_blank_values=True)
    fields = {}
    for key, field_value in pairs:
        key = key.lower()
        if key in fields:
            raise SasFormatError(FIELD_TWICE.format(key))
        fields[key] = field_value
    if not fields.get('sig'):
        raise SasFormatError(NO_SIGNATURE)
    if not fields.get('sv'):
        raise SasFormatError(NO_VERSION)
    for name in ('se', 'st'):
        if name in fields and parse_sas_time(fields[name]) is None:
            raise SasFormatError(NOT_A_TIME.format(name, fields[name]))
    return SasToken(fields)


def required_permissions(kind, options):
    """What runs of this pipeline do with the container: export lists, reads, adds and writes blobs; import
    lists and reads them (list is also what its source trigger needs), and deletes them with
    DeleteSourceBlobOnSuccess."""
    if kind == 'export':
        needed = EXPORT_PERMISSIONS
    else:
        needed = IMPORT_PERMISSIONS + (DELETE_PERMISSION if 'DeleteSourceBlobOnSuccess' in (options or []) else '')
    return ordered_permissions(needed)


def ordered_permissions(letters):
    return ''.join(letter for letter in PERMISSION_ORDER if letter in letters)


def _fmt(stamp):
    return stamp.strftime('%Y-%m-%dT%H:%MZ')


def new_token_command(account, permissions, now, vault=None, secret=None):
    """The fix for every SAS rule: a fresh account SAS for the blob service, stored as the pipeline's secret."""
    generate = GENERATE_SAS_COMMAND.format(account, permissions, _fmt(now + timedelta(days=NEW_TOKEN_DAYS)))
    if vault and secret:
        return STORE_SECRET_COMMAND.format(generate=generate, file=SAS_FILE, vault=vault, secret=secret)
    return generate


def check_expiry(sas, now, fix):
    expiry = sas.expiry
    if expiry is None:
        if sas.get('si'):
            return skipped(NAME_EXPIRY, EXPIRY_FROM_POLICY.format(sas.get('si')))
        return failed(NAME_EXPIRY, NO_EXPIRY, fix)
    if expiry <= now:
        return failed(NAME_EXPIRY, EXPIRED.format(_fmt(expiry)), fix)
    if expiry - now < timedelta(days=EXPIRY_WARNING_DAYS):
        days = (expiry - now).total_seconds() / 86400
        return warning(NAME_EXPIRY, EXPIRES_SOON.format(_fmt(expiry), days), fix)
    return passed(NAME_EXPIRY, VALID_UNTIL.format(_fmt(expiry)))


def check_start(sas, now, fix):
    start = sas.start
    if start is None:
        return passed(NAME_START, NO_START)
    if start > now:
        return failed(NAME_START, NOT_YET_VALID.format(_fmt(start)), fix)
    return passed(NAME_START, VALID_SINCE.format(_fmt(start)))


def check_protocol(sas, fix):
    protocol = sas.get('spr')
    if protocol == 'https':
        return passed(NAME_PROTOCOL, HTTPS_ONLY)
    allowed = 'spr={}'.format(protocol) if protocol else 'no spr'
    return failed(NAME_PROTOCOL, ALLOWS_HTTP.format(allowed), fix)


def check_service(sas, fix):
    if sas.is_account_sas:
        services = sas.get('ss') or ''
        if 'b' in services:
            return passed(NAME_SERVICE, ACCOUNT_SAS_FOR_BLOBS.format(services))
        return failed(NAME_SERVICE, ACCOUNT_SAS_WITHOUT_BLOBS.format(services), fix)
    resource = sas.get('sr')
    if resource == 'c':
        return passed(NAME_SERVICE, CONTAINER_SAS)
    if resource == 'b':
        return failed(NAME_SERVICE, BLOB_SAS, fix)
    return failed(NAME_SERVICE, UNKNOWN_SAS.format(" (sr={})".format(resource) if resource else ''), fix)


def check_resource_types(sas, fix):
    if sas.is_account_sas:
        types = sas.get('srt') or ''
        missing = [t for t in 'sco' if t not in types]
        if not missing:
            return passed(NAME_RESOURCE_TYPES, ALL_RESOURCE_TYPES.format(types))
        return failed(NAME_RESOURCE_TYPES, MISSING_RESOURCE_TYPES.format(''.join(missing), types or '<none>'), fix)
    if sas.get('sr') == 'c':
        return warning(NAME_RESOURCE_TYPES, CONTAINER_SAS_RESOURCE_TYPES, fix)
    return skipped(NAME_RESOURCE_TYPES, NO_RESOURCE_TYPES.format(NAME_SERVICE))


def check_permissions(sas, kind, options, fix):
    needed = required_permissions(kind, options)
    missing = [letter for letter in needed if letter not in sas.permissions]
    what = '{} pipeline{}'.format(kind, ' with DeleteSourceBlobOnSuccess' if DELETE_PERMISSION in needed
                                  and kind == 'import' else '')
    if missing:
        return failed(NAME_PERMISSIONS, MISSING_PERMISSIONS.format(sas.permissions or '<none>', what, needed,
                                                                   ''.join(missing)), fix)
    return passed(NAME_PERMISSIONS, ENOUGH_PERMISSIONS.format(sas.permissions, what, needed))


def sas_rules(sas, kind, options, now, fix):
    """Every rule, in a fixed order; `fix` is the command line that replaces the token."""
    return [check_expiry(sas, now, fix), check_start(sas, now, fix), check_protocol(sas, fix),
            check_service(sas, fix), check_resource_types(sas, fix), check_permissions(sas, kind, options, fix)]
