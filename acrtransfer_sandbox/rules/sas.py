"""Account SAS tokens for Azurite, signed with the account key (what `az storage account generate-sas` makes).

The seed stores one in each cloud's Key Vault: blob service, resource types service+container+object
(`srt=sco`, which ACR Transfer needs), read/write/delete/list/add/create, https only.
"""
import base64
import datetime
import hashlib
import hmac
from urllib.parse import urlencode

SAS_VERSION = "2022-11-02"
TRANSFER_PERMISSIONS = "rwdlac"
SEED_SAS_VALIDITY = datetime.timedelta(days=365)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_sas(account: str, key_b64: str, *, permissions: str = TRANSFER_PERMISSIONS, resource_types: str = "sco",
                expiry: datetime.datetime = None, start: datetime.datetime = None, protocol: str = "https") -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    start = start or now - datetime.timedelta(minutes=15)
    expiry = expiry or now + SEED_SAS_VALIDITY
    fields = {"sv": SAS_VERSION, "ss": "b", "srt": resource_types, "sp": permissions, "st": _iso(start),
              "se": _iso(expiry), "spr": protocol}
    string_to_sign = "\n".join([account, permissions, "b", resource_types, fields["st"], fields["se"], "", protocol,
                                SAS_VERSION, ""]) + "\n"
    signature = base64.b64encode(hmac.new(base64.b64decode(key_b64), string_to_sign.encode(), hashlib.sha256).digest())
    fields["sig"] = signature.decode()
    return urlencode(fields)
