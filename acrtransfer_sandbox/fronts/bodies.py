"""Request bodies, checked before anything touches the store: bounded size and nesting, strict JSON, and per resource
the JSON type of every field the sandbox reads (the ACR spec for pipelines and runs, ARM's and Key Vault's documented
shapes for vaults, access policies, role assignments and secrets).

A body that fails is a 400 with the service's error body; fields the sandbox does not model are dropped, so what is
stored is always something later requests can read. The rules a service applies beyond types (options, modes,
required values) stay with the handlers.
"""
import json
import re
from typing import Optional

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict

# ARM refuses request content over 4 MB (RequestContentTooLarge); every sandbox resource fits in far less, and a
# small bound keeps one request from growing the state file.
MAX_BODY_BYTES = 64 * 1024
MAX_NESTING = 32
MAX_STRING = 4096
MAX_ITEMS = 1024                    # Key Vault's limit on access policies per vault
MAX_SECRET_VALUE_BYTES = 25 * 1024  # Key Vault: a secret value is at most 25 KB
SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class BodyError(Exception):
    def __init__(self, message: str, code: str = "InvalidRequestContent", status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# ---- shapes ---------------------------------------------------------------------------------------------------

class Shape:
    json_type = "value"

    def check(self, value, where: str):
        raise NotImplementedError

    def _wrong_type(self, value, where: str) -> BodyError:
        return BodyError(f"The request content was invalid: '{where}' must be a JSON {self.json_type}, "
                         f"not {_json_type_of(value)}.")


class Str(Shape):
    json_type = "string"

    def __init__(self, max_length: int = MAX_STRING, pattern: Optional[re.Pattern] = None,
                 rule: str = "", choices: Optional[set] = None):
        self.max_length = max_length
        self.pattern = pattern
        self.rule = rule
        self.choices = frozenset(choice.lower() for choice in choices or ())

    def check(self, value, where: str):
        if not isinstance(value, str):
            raise self._wrong_type(value, where)
        if len(value) > self.max_length:
            raise BodyError(f"The request content was invalid: '{where}' is longer than {self.max_length} "
                            "characters.")
        if self.pattern is not None and not self.pattern.match(value):
            raise BodyError(f"The request content was invalid: '{where}' must be {self.rule}; got '{value[:64]}'.")
        if self.choices and value.lower() not in self.choices:
            raise BodyError(f"The request content was invalid: '{where}' must be one of "
                            f"{sorted(self.choices)}; got '{value[:64]}'.")
        return value


class Bool(Shape):
    json_type = "boolean"

    def check(self, value, where: str):
        if not isinstance(value, bool):
            raise self._wrong_type(value, where)
        return value


class Int(Shape):
    json_type = "integer"

    def __init__(self, minimum: int, maximum: int):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value, where: str):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong_type(value, where)
        if not self.minimum <= value <= self.maximum:
            raise BodyError(f"The request content was invalid: '{where}' must be between {self.minimum} and "
                            f"{self.maximum}; got {value}.")
        return value


class Arr(Shape):
    json_type = "array"

    def __init__(self, item: Shape, max_items: int = MAX_ITEMS):
        self.item = item
        self.max_items = max_items

    def check(self, value, where: str):
        if not isinstance(value, list):
            raise self._wrong_type(value, where)
        if len(value) > self.max_items:
            raise BodyError(f"The request content was invalid: '{where}' has more than {self.max_items} items.")
        return [self.item.check(item, f"{where}[{index}]") for index, item in enumerate(value)]


class Obj(Shape):
    """A JSON object with known fields; unknown fields are dropped. A field given as null counts as absent."""
    json_type = "object"

    def __init__(self, fields: dict, required: tuple = ()):
        self.fields = fields
        self.required = required

    def check(self, value, where: str):
        if not isinstance(value, dict):
            raise self._wrong_type(value, where)
        checked = {}
        for name, shape in self.fields.items():
            if value.get(name) is not None:
                checked[name] = shape.check(value[name], f"{where}.{name}" if where else name)
        for name in self.required:
            if name not in checked:
                raise BodyError(f"The request content was invalid: '{where + '.' if where else ''}{name}' is "
                                "required.")
        return checked


class Map(Shape):
    """A JSON object used as a dictionary (tags, userAssignedIdentities)."""
    json_type = "object"

    def __init__(self, value: Shape, key: Shape = Str(max_length=512), max_entries: int = MAX_ITEMS):
        self.value = value
        self.key = key
        self.max_entries = max_entries

    def check(self, value, where: str):
        if not isinstance(value, dict):
            raise self._wrong_type(value, where)
        if len(value) > self.max_entries:
            raise BodyError(f"The request content was invalid: '{where}' has more than {self.max_entries} entries.")
        return {self.key.check(k, f"{where} key"): self.value.check(v, f"{where}.{k}") for k, v in value.items()}


def _json_type_of(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


# ---- the sandbox's request bodies ---------------------------------------------------------------------------

# ARM: at most 50 tags, names up to 512 characters, values up to 256.
TAGS = Map(Str(max_length=256), max_entries=50)
ARM_ID = Str(max_length=1024)

# ACR Transfer, from the 2025-06-01-preview spec (IdentityProperties, Export/ImportPipelineProperties,
# PipelineRunProperties). userAssignedIdentities values are {} on a request (principalId/clientId are read-only).
IDENTITY = Obj({"type": Str(max_length=64), "userAssignedIdentities": Map(Obj({}), key=ARM_ID, max_entries=50)})
# The spec only says "string"; what the run needs is an https container URI (host-style, or path-style as the
# emulator serves it) and a Key Vault secret URI.
CONTAINER_URI = re.compile(r"^https://[^/?#\s]+(/[^/?#\s]+){1,2}/?$")
SECRET_URI = re.compile(r"^https://[^/?#\s]+/secrets/[0-9A-Za-z-]{1,127}(/[0-9A-Za-z]{1,64})?/?$")
PIPELINE_STORAGE = Obj({"type": Str(max_length=64),
                        "uri": Str(max_length=2048, pattern=CONTAINER_URI,
                                   rule="an https storage container URI (https://<account>.blob.<suffix>/<container>)"),
                        "keyVaultUri": Str(max_length=2048, pattern=SECRET_URI,
                                           rule="a Key Vault secret URI (https://<vault>/secrets/<name>[/<version>])"),
                        "storageAccessMode": Str(max_length=64)})
EXPORT_PIPELINE = Obj({"location": Str(max_length=128), "identity": IDENTITY,
                       "properties": Obj({"target": PIPELINE_STORAGE, "options": Arr(Str(max_length=64), 16)})})
IMPORT_PIPELINE = Obj({"location": Str(max_length=128), "identity": IDENTITY,
                       "properties": Obj({"source": PIPELINE_STORAGE, "options": Arr(Str(max_length=64), 16),
                                          "trigger": Obj({"sourceTrigger": Obj({"status": Str(max_length=64)})})})})
RUN_BLOB = Obj({"type": Str(max_length=64), "name": Str(max_length=1024)})
PIPELINE_RUN = Obj({"properties": Obj({
    "request": Obj({"pipelineResourceId": ARM_ID, "artifacts": Arr(Str(max_length=1024), 1000),
                    "source": RUN_BLOB, "target": RUN_BLOB, "catalogDigest": Str(max_length=256)}),
    "forceUpdateTag": Str(max_length=256)})})

# Microsoft.KeyVault/vaults (VaultProperties / VaultPatchProperties, AccessPolicyEntry) and the accessPolicies
# operation body (VaultAccessPolicyParameters).
PERMISSION_LIST = Arr(Str(max_length=64), 64)
SECRET_PERMISSIONS = Arr(Str(max_length=64, choices={"all", "get", "list", "set", "delete", "backup", "restore",
                                                     "recover", "purge"}), 64)
ACCESS_POLICY = Obj({"tenantId": Str(pattern=GUID, rule="a GUID"), "objectId": Str(max_length=128),
                     "applicationId": Str(pattern=GUID, rule="a GUID"),
                     "permissions": Obj({"keys": PERMISSION_LIST, "secrets": SECRET_PERMISSIONS,
                                         "certificates": PERMISSION_LIST, "storage": PERMISSION_LIST})},
                    required=("tenantId", "objectId", "permissions"))
VAULT_PROPERTIES = Obj({
    "tenantId": Str(pattern=GUID, rule="a GUID"),
    "sku": Obj({"family": Str(max_length=16), "name": Str(max_length=16, choices={"standard", "premium"})}),
    "accessPolicies": Arr(ACCESS_POLICY), "enabledForDeployment": Bool(), "enabledForDiskEncryption": Bool(),
    "enabledForTemplateDeployment": Bool(), "enableSoftDelete": Bool(), "softDeleteRetentionInDays": Int(7, 90),
    "enableRbacAuthorization": Bool(), "enablePurgeProtection": Bool(),
    "publicNetworkAccess": Str(max_length=64), "createMode": Str(max_length=64), "vaultUri": Str(max_length=2048),
    "networkAcls": Obj({"bypass": Str(max_length=64), "defaultAction": Str(max_length=64),
                        "ipRules": Arr(Obj({"value": Str(max_length=64)})),
                        "virtualNetworkRules": Arr(Obj({"id": ARM_ID}))})})
VAULT = Obj({"location": Str(max_length=128), "tags": TAGS, "properties": VAULT_PROPERTIES})
ACCESS_POLICY_UPDATE = Obj({"properties": Obj({"accessPolicies": Arr(ACCESS_POLICY)}, required=("accessPolicies",))},
                           required=("properties",))

# Microsoft.Authorization/roleAssignments (RoleAssignmentCreateParameters).
ROLE_ASSIGNMENT = Obj({"properties": Obj({
    "roleDefinitionId": ARM_ID, "principalId": Str(max_length=64),
    "principalType": Str(max_length=32, choices={"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}),
    "description": Str(max_length=2048), "condition": Str(max_length=8192), "conditionVersion": Str(max_length=16),
    "delegatedManagedIdentityResourceId": ARM_ID}, required=("roleDefinitionId",))},
    required=("properties",))

# Microsoft.Storage/storageAccounts: the part of StorageAccountUpdateParameters (PATCH) and
# StorageAccountCreateParameters (PUT) the sandbox models, and StorageAccountRegenerateKeyParameters.
STORAGE_BYPASS = re.compile(r"^(None|((Logging|Metrics|AzureServices)(, ?(Logging|Metrics|AzureServices))*))$",
                            re.IGNORECASE)
STORAGE_ACCOUNT_UPDATE = Obj({
    "location": Str(max_length=128), "kind": Str(max_length=64), "tags": TAGS,
    "sku": Obj({"name": Str(max_length=64)}),
    "properties": Obj({
        "publicNetworkAccess": Str(max_length=32, choices={"Enabled", "Disabled", "SecuredByPerimeter"}),
        "allowSharedKeyAccess": Bool(), "allowBlobPublicAccess": Bool(), "supportsHttpsTrafficOnly": Bool(),
        "minimumTlsVersion": Str(max_length=16, choices={"TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"}),
        "networkAcls": Obj({
            "bypass": Str(max_length=64, pattern=STORAGE_BYPASS,
                          rule="None or a comma-separated list of Logging, Metrics, AzureServices"),
            "defaultAction": Str(max_length=16, choices={"Allow", "Deny"}),
            "ipRules": Arr(Obj({"value": Str(max_length=64), "action": Str(max_length=16)}), 400),
            "virtualNetworkRules": Arr(Obj({"id": ARM_ID, "action": Str(max_length=16),
                                            "state": Str(max_length=32)}), 200)})})})
REGENERATE_KEY = Obj({"keyName": Str(max_length=64)}, required=("keyName",))

# Microsoft.ContainerRegistry/registries PATCH (RegistryUpdateParameters), the part the sandbox models.
REGISTRY_UPDATE = Obj({
    "tags": TAGS, "sku": Obj({"name": Str(max_length=16, choices={"Basic", "Standard", "Premium"})},
                             required=("name",)),
    "properties": Obj({
        "publicNetworkAccess": Str(max_length=16, choices={"Enabled", "Disabled"}),
        "networkRuleBypassOptions": Str(max_length=32, choices={"AzureServices", "None"}),
        "adminUserEnabled": Bool(), "anonymousPullEnabled": Bool(), "dataEndpointEnabled": Bool(),
        "networkRuleSet": Obj({"defaultAction": Str(max_length=16, choices={"Allow", "Deny"}),
                               "ipRules": Arr(Obj({"value": Str(max_length=64), "action": Str(max_length=16)}),
                                              200)}),
        "policies": Obj({"exportPolicy": Obj({"status": Str(max_length=16, choices={"enabled", "disabled"})})})})})

# Key Vault data plane: PUT /secrets/{name} (SecretSetParameters).
SECRET_SET = Obj({"value": Str(max_length=MAX_SECRET_VALUE_BYTES), "contentType": Str(max_length=255),
                  "tags": Map(Str(max_length=256), max_entries=15),
                  "attributes": Obj({"enabled": Bool(), "nbf": Int(0, 2 ** 40), "exp": Int(0, 2 ** 40)})},
                 required=("value",))


# ---- reading ------------------------------------------------------------------------------------------------

def _refuse_constant(name: str):
    raise ValueError(f"'{name}' is not JSON")


def parse_json_object(raw: bytes):
    """The JSON object in `raw`, or None when it is empty; BodyError for anything that is not strict, bounded JSON."""
    if len(raw) > MAX_BODY_BYTES:
        raise BodyError(f"The request content size exceeds the maximum size of {MAX_BODY_BYTES // 1024} KB.",
                        code="RequestContentTooLarge", status=413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"The request content is not valid UTF-8: {exc.reason} at byte {exc.start}.") from exc
    if not text.strip():
        return None
    if _nesting_of(text) > MAX_NESTING:
        raise BodyError(f"The request content is nested more than {MAX_NESTING} levels deep.")
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise BodyError(f"The request content is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BodyError("The request content must be a JSON object.")
    return body


def _nesting_of(text: str) -> int:
    """How deep brackets nest outside strings: checked before parsing, so json never recurses deeper."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


async def read_raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BodyError(f"The request content size exceeds the maximum size of {MAX_BODY_BYTES // 1024} KB.",
                        code="RequestContentTooLarge", status=413)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyError(f"The request content size exceeds the maximum size of {MAX_BODY_BYTES // 1024} KB.",
                        code="RequestContentTooLarge", status=413) from exc


async def read_object(request: web.Request, code: Optional[str] = None):
    """The request's JSON object (None when empty), or an HTTP error whose body is the service's error shape
    (`code` in place of ARM's InvalidRequestContent, e.g. Key Vault's BadParameter)."""
    try:
        return parse_json_object(await read_raw(request))
    except BodyError as exc:
        raise as_http_error(exc, code) from exc


async def read(request: web.Request, shape: Obj, code: Optional[str] = None) -> dict:
    """The request's body checked against `shape`, with unknown fields dropped; {} when the body is empty."""
    body = await read_object(request, code)
    try:
        return shape.check(body or {}, "")
    except BodyError as exc:
        raise as_http_error(exc, code) from exc


def as_http_error(exc: BodyError, code: Optional[str] = None) -> web.HTTPException:
    # ARM and Key Vault share the {"error": {"code", "message"}} shape.
    if exc.status == 400 and code:
        exc.code = code
    text = json.dumps({"error": {"code": exc.code, "message": exc.message}})
    error_class = web.HTTPRequestEntityTooLarge if exc.status == 413 else web.HTTPBadRequest
    if error_class is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=0, text=text,
                                             content_type="application/json")
    return web.HTTPBadRequest(text=text, content_type="application/json")


async def read_form(request: web.Request) -> Optional[MultiDict]:
    """The text fields of a form body (token endpoints); None when the body is no readable form (not UTF-8, a
    broken multipart), which the endpoint answers with its own 400. Too large stays aiohttp's 413."""
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError, HttpProcessingError):
        return None
    return MultiDict((key, value) for key, value in form.items() if isinstance(value, str))


def check_secret_name(name: str) -> Optional[str]:
    """Key Vault's rule for object names; the error message when `name` breaks it, else None."""
    if SECRET_NAME.match(name):
        return None
    return f"The request URI contains an invalid name: {name}"
