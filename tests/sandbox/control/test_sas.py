"""The seed's account SAS: checked against the storage SDK's own signing (an independent implementation)."""
import base64
import datetime
import os
from urllib.parse import parse_qsl

from azure.storage.blob._shared.shared_access_signature import SharedAccessSignature

from acrtransfer_sandbox.rules.sas import SAS_VERSION, SEED_SAS_VALIDITY, account_sas

KEY = base64.b64encode(os.urandom(64)).decode()
START = datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
EXPIRY = datetime.datetime(2026, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)


def _fields(token: str) -> dict:
    return dict(parse_qsl(token))


def _sdk_sas(permissions: str, resource_types: str) -> dict:
    signer = SharedAccessSignature("sourcestorage", KEY, x_ms_version=SAS_VERSION)
    return _fields(signer.generate_account(services="b", resource_types=resource_types, permission=permissions,
                                           expiry=EXPIRY, start=START, protocol="https"))


def test_the_signature_matches_the_storage_sdks():
    ours = _fields(account_sas("sourcestorage", KEY, start=START, expiry=EXPIRY))
    assert ours == _sdk_sas("rwdlac", "sco")
    assert (ours["ss"], ours["srt"], ours["sp"], ours["spr"]) == ("b", "sco", "rwdlac", "https")


def test_a_narrower_sas_is_signed_for_what_it_grants():
    ours = _fields(account_sas("sourcestorage", KEY, permissions="rl", resource_types="co", start=START,
                               expiry=EXPIRY))
    assert ours == _sdk_sas("rl", "co")
    assert ours["sig"] != _fields(account_sas("sourcestorage", KEY, start=START, expiry=EXPIRY))["sig"]


def test_another_account_or_key_gives_another_signature():
    ours = _fields(account_sas("sourcestorage", KEY, start=START, expiry=EXPIRY))["sig"]
    assert _fields(account_sas("targetstorage", KEY, start=START, expiry=EXPIRY))["sig"] != ours
    other_key = base64.b64encode(os.urandom(64)).decode()
    assert _fields(account_sas("sourcestorage", other_key, start=START, expiry=EXPIRY))["sig"] != ours


def test_the_seed_sas_is_valid_from_a_little_before_now_for_a_year():
    now = datetime.datetime.now(datetime.timezone.utc)
    fields = _fields(account_sas("sourcestorage", KEY))
    start = datetime.datetime.strptime(fields["st"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    expiry = datetime.datetime.strptime(fields["se"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert datetime.timedelta(minutes=14) <= now - start <= datetime.timedelta(minutes=16)
    assert abs(expiry - now - SEED_SAS_VALIDITY) < datetime.timedelta(minutes=1)
