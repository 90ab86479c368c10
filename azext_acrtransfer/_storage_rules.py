# --------------------------------------------------------------------------------------------
# Copyright (c) The acrtransfer authors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""What a storage account's own settings do to ACR Transfer runs, judged from its ARM resource: its network rules,
whether it accepts shared keys (every SAS token is signed with one), and when its keys were made.

ACR Transfer is not a trusted service for Storage: a firewall's `bypass AzureServices` does not let its runs in,
and it does not use private endpoints to storage. Runs against such an account fail after minutes with
"Failed to access storage. Service request failed. Status: 403 (This request is not authorized to perform this
operation)".
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Tuple

from ._check_result import WARNING, failed, passed, skipped, warning

NAME_STORAGE_NETWORK = 'StorageNetwork'
NAME_SHARED_KEY = 'StorageSharedKey'
NAME_STORAGE_KEYS = 'StorageKeys'

# Messages and fix commands, formatted where a rule reports them.
NOT_TRUSTED = ('ACR Transfer is not a trusted service for Storage, so bypass AzureServices does not let its runs in, '
               'and they fail with 403 (This request is not authorized to perform this operation).')
PUBLIC_ACCESS_DISABLED = "Storage account '{}' has public network access Disabled. " + NOT_TRUSTED
DEFAULT_DENY = "Storage account '{}' has a firewall (networkAcls.defaultAction Deny, bypass {}). " + NOT_TRUSTED
NETWORK_OPEN = "Storage account '{}' accepts requests from public networks, as ACR Transfer needs."
OPEN_NETWORK_COMMAND = ('az storage account update --resource-group {group} --name {account} '
                        '--public-network-access Enabled --default-action Allow')
SHARED_KEY_DISABLED = ("Storage account '{}' does not allow shared key access: every SAS token is signed with an "
                       "account key, so storage answers KeyBasedAuthenticationNotPermitted. Allow shared keys, or "
                       "recreate the pipeline with --storage-access-mode ManagedIdentity.")
SHARED_KEY_ALLOWED = "Storage account '{}' allows shared key access (SAS tokens)."
ALLOW_SHARED_KEY_COMMAND = 'az storage account update --resource-group {group} --name {account} ' \
                           '--allow-shared-key-access true'
KEYS_TIMES_UNKNOWN = "Storage account '{}' does not say when its keys were created."
TOKEN_START_UNKNOWN = 'The token has no start time (st): whether it predates the account keys is not known.'
KEY_RENEWED = ("{key} of storage account '{account}' was created on {created}, after the token's start {start} "
               "(st): if the token was signed with the old key, storage refuses it (AuthenticationFailed).")
KEYS_OLDER = "The account keys predate the token's start {} (st)."
RENEWED_BUT_ACCEPTED = ('A key was renewed after the token\'s start, but storage accepts the token: the other key '
                        'signed it.')


@dataclass(frozen=True)
class StorageAccountFacts:
    """What ARM says about a storage account, in SDK-neutral terms."""
    name: str
    resource_group: str
    public_network_access: Optional[str] = None
    default_action: Optional[str] = None
    bypass: Optional[str] = None
    allow_shared_key_access: Optional[bool] = None
    key_creation_times: Tuple[Tuple[str, datetime], ...] = ()


def _text(value):
    """An SDK enum or a string, as the string ARM sent."""
    return getattr(value, 'value', value)


def account_facts(account, resource_group):
    """StorageAccountFacts from the management SDK's StorageAccount model (of any api-version)."""
    acls = getattr(account, 'network_rule_set', None)
    created = getattr(account, 'key_creation_time', None)
    times = tuple((key, _as_datetime(getattr(created, key, None))) for key in ('key1', 'key2'))
    return StorageAccountFacts(
        name=account.name, resource_group=resource_group,
        public_network_access=_text(getattr(account, 'public_network_access', None)),
        default_action=_text(getattr(acls, 'default_action', None)),
        bypass=_text(getattr(acls, 'bypass', None)),
        allow_shared_key_access=getattr(account, 'allow_shared_key_access', None),
        key_creation_times=tuple((key, when) for key, when in times if isinstance(when, datetime)))


def _as_datetime(value):
    """A datetime from an SDK model, or ARM's ISO 8601 text (7 fraction digits and a Z, as storage writes it)."""
    if isinstance(value, datetime) or not isinstance(value, str):
        return value
    import re
    text = re.sub(r'(\.\d{6})\d+', r'\1', value.strip()).replace('Z', '+00:00')
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def network_rule(facts):
    fix = OPEN_NETWORK_COMMAND.format(group=facts.resource_group, account=facts.name)
    if (facts.public_network_access or '').lower() == 'disabled':
        return failed(NAME_STORAGE_NETWORK, PUBLIC_ACCESS_DISABLED.format(facts.name), fix)
    if (facts.default_action or '').lower() == 'deny':
        return failed(NAME_STORAGE_NETWORK, DEFAULT_DENY.format(facts.name, facts.bypass or 'None'), fix)
    return passed(NAME_STORAGE_NETWORK, NETWORK_OPEN.format(facts.name))


def shared_key_rule(facts):
    """SasToken mode only. ARM leaves allowSharedKeyAccess out until someone sets it: absent means allowed."""
    if facts.allow_shared_key_access is False:
        return failed(NAME_SHARED_KEY, SHARED_KEY_DISABLED.format(facts.name),
                      ALLOW_SHARED_KEY_COMMAND.format(group=facts.resource_group, account=facts.name))
    return passed(NAME_SHARED_KEY, SHARED_KEY_ALLOWED.format(facts.name))


def key_age_rule(facts, token_start, fix):
    """A key made after the token started (az storage account keys renew) may be the one that signed it: a
    Warning, since which key signed the token cannot be told from the token."""
    if not facts.key_creation_times:
        return skipped(NAME_STORAGE_KEYS, KEYS_TIMES_UNKNOWN.format(facts.name))
    if token_start is None:
        return skipped(NAME_STORAGE_KEYS, TOKEN_START_UNKNOWN)
    for key, created in facts.key_creation_times:
        if _aware(created) > token_start:
            return warning(NAME_STORAGE_KEYS, KEY_RENEWED.format(key=key, account=facts.name, created=_fmt(created),
                                                                 start=_fmt(token_start)), fix)
    return passed(NAME_STORAGE_KEYS, KEYS_OLDER.format(_fmt(token_start)))


def key_age_with_storage_answer(result, token_accepted):
    """The key-age Warning says the token *may* be dead; once storage has accepted the token it is not."""
    if result.status == WARNING and token_accepted:
        return passed(NAME_STORAGE_KEYS, RENEWED_BUT_ACCEPTED)
    return result


def _aware(stamp):
    from datetime import timezone
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _fmt(stamp):
    return stamp.strftime('%Y-%m-%dT%H:%MZ')
