"""Account SAS tokens for Azurite, signed with the account key (what `az storage account generate-sas` makes), and
which key signed a SAS (a key renewed since makes it fail as storage would).

The seed stores one in each cloud's Key Vault: blob service, resource types service+container+object
(`srt=sco`, which ACR Transfer needs), read/write/delete/list/add/create, https only.
"""
import base64
import datetime
import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode

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


# ---- which key signed a SAS ---------------------------------------------------------------------------------------

# Storage's answer to a SAS whose signature no current key makes (Azure's code and wording). Azurite answers such a
# SAS 403 too, but with AuthorizationFailure: the run executor finds a SAS signed with a renewed key itself and
# fails the run with this message, as the service would report storage's answer.
SAS_KEY_RENEWED = ("Failed to access storage. Service request failed. Status: 403 (Server failed to authenticate "
                   "the request. Make sure the value of Authorization header is formed correctly including the "
                   "signature.) ErrorCode: AuthenticationFailed. The SAS token was signed with a key of storage "
                   "account '{account}' that has been renewed since.")
_SERVICE_SAS_FIELDS = ("si", "sip", "spr", "sv", "sr", "snapshot", "ses", "rscc", "rscd", "rsce", "rscl", "rsct")


def _sign(key_b64: str, text: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(key_b64), text.encode(), hashlib.sha256).digest()).decode()


def _strings_to_sign(account: str, container: str, fields: dict) -> list:
    """What the SAS's signature covers, by its kind: an account SAS (ss/srt) or a service SAS for the container
    (sr=c); the forms of sv 2020-12-06 and later (with the encryption scope). Other kinds give nothing to test."""
    get = fields.get
    if get("ss") and get("srt"):
        return ["\n".join([account, get("sp", ""), get("ss", ""), get("srt", ""), get("st", ""), get("se", ""),
                           get("sip", ""), get("spr", ""), get("sv", ""), get("ses", "")]) + "\n"]
    if get("sr") == "c":
        head = [get("sp", ""), get("st", ""), get("se", ""), f"/blob/{account}/{container}"]
        return ["\n".join(head + [get(name, "") for name in _SERVICE_SAS_FIELDS])]
    return []


def signed_with_one_of(sas: str, account: str, container: str, keys) -> bool:
    """True when one of `keys` (base64) made this SAS's signature; False when none did or the kind is unknown."""
    fields = dict(parse_qsl(sas.lstrip("?"), keep_blank_values=True))
    signature = fields.get("sig", "")
    return any(hmac.compare_digest(_sign(key, text), signature)
               for text in _strings_to_sign(account, container, fields) for key in keys)
