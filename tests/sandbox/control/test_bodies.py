"""The request-body shapes the sandbox checks pipelines and runs against agree with the official spec
(../shared/spec): every writable field of the spec is checked with the spec's JSON type, no field is invented, and
the spec's own request examples pass unchanged. Plus the parser's bounds."""
import json

import pytest
from shared_files import spec_example_path
from spec_schema import load_definitions

from acrtransfer_sandbox.fronts import bodies

SHAPE_TYPES = {bodies.Obj: "object", bodies.Map: "object", bodies.Str: "string", bodies.Arr: "array",
               bodies.Bool: "boolean", bodies.Int: "integer"}
# ProxyResource's fields are read-only; "properties" is flattened by the SDKs but is an object on the wire.
SHAPES_AND_MODELS = [(bodies.EXPORT_PIPELINE, "ExportPipeline"), (bodies.IMPORT_PIPELINE, "ImportPipeline"),
                     (bodies.PIPELINE_RUN, "PipelineRun")]
EXAMPLES = [("ExportPipelineCreate.json", bodies.EXPORT_PIPELINE),
            ("ImportPipelineCreate.json", bodies.IMPORT_PIPELINE),
            ("PipelineRunCreate_Export.json", bodies.PIPELINE_RUN),
            ("PipelineRunCreate_Import.json", bodies.PIPELINE_RUN)]


@pytest.fixture(scope="module")
def definitions():
    return load_definitions()


def _resolve(schema: dict, definitions: dict) -> dict:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _writable_properties(schema: dict, definitions: dict) -> dict:
    return {name: _resolve(prop, definitions) for name, prop in schema.get("properties", {}).items()
            if not prop.get("readOnly")}


def _differences(shape, schema: dict, definitions: dict, where: str) -> list:
    schema = _resolve(schema, definitions)
    found = []
    if SHAPE_TYPES[type(shape)] != schema.get("type", "object"):
        return [f"{where}: sandbox checks {SHAPE_TYPES[type(shape)]}, spec says {schema.get('type')}"]
    if isinstance(shape, bodies.Obj):
        spec_fields = _writable_properties(schema, definitions)
        for name in set(spec_fields) | set(shape.fields):
            if name not in shape.fields or name not in spec_fields:
                found.append(f"{where}.{name}: only in {'the spec' if name in spec_fields else 'the sandbox'}")
            else:
                found += _differences(shape.fields[name], spec_fields[name], definitions, f"{where}.{name}")
    elif isinstance(shape, bodies.Map):
        found += _differences(shape.value, schema["additionalProperties"], definitions, where + "{}")
    elif isinstance(shape, bodies.Arr):
        found += _differences(shape.item, schema["items"], definitions, where + "[]")
    return found


@pytest.mark.parametrize("shape,model", SHAPES_AND_MODELS, ids=[model for _, model in SHAPES_AND_MODELS])
def test_pipeline_body_shapes_follow_the_spec(definitions, shape, model):
    assert _differences(shape, definitions[model], definitions, model) == []


@pytest.mark.parametrize("example,shape", EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_specs_request_examples_pass_unchanged(example, shape):
    with open(spec_example_path(example), encoding="utf-8") as f:
        parameters = json.load(f)["parameters"]
    [body] = [value for value in parameters.values() if isinstance(value, dict)]
    assert shape.check(body, "") == body


@pytest.mark.parametrize("raw,code", [
    (b"[" * 33 + b"]" * 33, "InvalidRequestContent"), (b'{"a": "' + b"[" * 100 + b'"}', None),
    (b'{"a": "\\"[[[[' + b"[" * 100 + b'"}', None), (b"\xc3\x28", "InvalidRequestContent"),
    (b'{"a": NaN}', "InvalidRequestContent"), (b'{"a": -Infinity}', "InvalidRequestContent"),
    (b" ", None), (b"[]", "InvalidRequestContent"), (b"x" * (bodies.MAX_BODY_BYTES + 1), "RequestContentTooLarge"),
])
def test_the_parser_bounds(raw, code):
    if code is None:
        bodies.parse_json_object(raw)    # brackets inside strings do not count as nesting
        return
    with pytest.raises(bodies.BodyError) as raised:
        bodies.parse_json_object(raw)
    assert raised.value.code == code


@pytest.mark.parametrize("name,valid", [("acrtransfer-sas", True), ("A-1", True), ("x" * 127, True), ("", False),
                                        ("x" * 128, False), ("a/b", False), ("..", False), ("a_b", False),
                                        ("café", False), ("a b", False)])
def test_key_vault_secret_names(name, valid):
    assert (bodies.check_secret_name(name) is None) is valid
