"""Storage accounts as the cloud keeps them: the settings `az storage account update` changes (network access,
firewall, shared key access) and the two account keys with their creation times (`keys renew`).

The key values are the Azurite account's own keys (kept with the sandbox's credentials, never in a resource
document); the document carries what ARM shows: properties.keyCreationTime {key1, key2}.
"""
import base64
import secrets

from ..plumbing.clock import utc_now

KEY_NAMES = ("key1", "key2")
# `az storage account keys renew --key primary|secondary` sends key1|key2; kerb keys are not modelled.
SEEDED_KEY_TIME = "2026-01-01T00:00:00.0000000Z"
DEFAULT_NETWORK_ACLS = {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [],
                        "virtualNetworkRules": []}
# What an update may change (ARM's StorageAccountPropertiesUpdateParameters, the part the sandbox models).
UPDATABLE = ("publicNetworkAccess", "networkAcls", "allowSharedKeyAccess", "minimumTlsVersion",
             "allowBlobPublicAccess", "supportsHttpsTrafficOnly")
BAD_KEY_NAME = "The key name '{}' is not valid: use key1 or key2."


def default_settings() -> dict:
    return {"publicNetworkAccess": "Enabled", "networkAcls": dict(DEFAULT_NETWORK_ACLS),
            "allowSharedKeyAccess": True, "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False,
            "supportsHttpsTrafficOnly": True,
            "keyCreationTime": {name: SEEDED_KEY_TIME for name in KEY_NAMES},
            "encryption": {"keySource": "Microsoft.Storage",
                           "services": {"blob": {"enabled": True, "keyType": "Account"},
                                        "file": {"enabled": True, "keyType": "Account"}}}}


def kept_settings(existing: dict) -> dict:
    """The settings of a stored account that a restart must keep (the rest follows the configuration)."""
    props = (existing or {}).get("properties") or {}
    return {key: props[key] for key in UPDATABLE + ("keyCreationTime",) if key in props}


def apply_update(document: dict, given: dict) -> dict:
    """`document` with the updatable properties of `given` (a PATCH or PUT body's properties) applied."""
    props = document["properties"]
    for key in UPDATABLE:
        if key not in given:
            continue
        if key == "networkAcls":
            acls = {**DEFAULT_NETWORK_ACLS, **(props.get("networkAcls") or {}), **given["networkAcls"]}
            props["networkAcls"] = acls
        else:
            props[key] = given[key]
    return document


def key_name_of(given: str) -> str:
    """key1/key2 from what a client sends (also `primary`/`secondary`); ValueError otherwise."""
    name = {"primary": "key1", "secondary": "key2"}.get(given.lower(), given.lower())
    if name not in KEY_NAMES:
        raise ValueError(BAD_KEY_NAME.format(given[:40]))
    return name


def new_key() -> str:
    """A fresh account key: 64 random bytes, base64, as Azure's are."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def renewed(document: dict, key_name: str) -> dict:
    document["properties"].setdefault("keyCreationTime", {})[key_name] = utc_now()
    return document


def keys_answer(document: dict, values: dict) -> dict:
    """listKeys / regenerateKey body: both keys with their creation times."""
    times = document["properties"].get("keyCreationTime") or {}
    return {"keys": [{"keyName": name, "value": values[name], "permissions": "FULL",
                      "creationTime": times.get(name, SEEDED_KEY_TIME)} for name in KEY_NAMES]}
