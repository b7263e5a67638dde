"""layers_partner/models.py from an OpenAPI document: one pydantic v2 model per schema.

Every schema under components/schemas becomes a model, and so does every request body the document
spells out inline under a title. Models read camelCase JSON into snake_case attributes, keep fields a
newer server adds (extra="allow"), and refuse unknown fields where the schema does (request bodies).
Run through scripts/gen_openapi.py, which also writes openapi.json; a test fails when either is stale.
"""

from __future__ import annotations

import keyword
import re
import textwrap
from typing import Any

HEADER = '''"""Generated from openapi.json by scripts/gen_openapi.py (clients/python/gen_models.py). Do not edit."""

from __future__ import annotations

from typing import {typing}

from pydantic import BaseModel, ConfigDict, Field

'''
_REF = "#/components/schemas/"


def snake(name: str) -> str:
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return f"{out}_" if keyword.iskeyword(out) or out in ("model_config", "json", "copy", "schema") else out


def python_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(_REF)
    if "anyOf" in schema:
        parts = [python_type(s) for s in schema["anyOf"]]
        return " | ".join(dict.fromkeys(parts))
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    if "enum" in schema:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if kind == "null":
        return "None"
    if kind == "string":
        return "bytes" if schema.get("format") == "binary" else "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return f"list[{python_type(schema.get('items', {}))}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        value = python_type(extra) if isinstance(extra, dict) and extra else "Any"
        return f"dict[str, {value}]"
    return "Any"


def model_source(name: str, schema: dict[str, Any]) -> str:
    forbid = schema.get("additionalProperties") is False
    lines = [f"class {name}(BaseModel):"]
    description = schema.get("description")
    if description:
        text = " ".join(str(description).split()).replace('"""', "'''")
        wrapped = textwrap.wrap(text, width=110)
        if len(wrapped) == 1:
            lines.append(f'    """{text}"""')
        else:
            lines.append(f'    """{wrapped[0]}')
            lines.extend(f"    {line}" for line in wrapped[1:])
            lines.append('    """')
        lines.append("")
    extra = "forbid" if forbid else "allow"
    lines.append(f'    model_config = ConfigDict(populate_by_name=True, extra="{extra}")')
    lines.append("")
    required = set(schema.get("required", []))
    for field, spec in schema.get("properties", {}).items():
        annotation = python_type(spec)
        arguments = [f"alias={field!r}"]
        if field not in required:
            default = spec.get("default")
            arguments.insert(0, f"default={default!r}")
            if "None" not in annotation.split(" | ") and default is None:
                annotation += " | None"
        lines.append(f"    {snake(field)}: {annotation} = Field({', '.join(arguments)})")
    return "\n".join(lines) + "\n"


def schemas_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every named schema: the components, then the inline request bodies that carry a title."""
    found = dict(doc.get("components", {}).get("schemas", {}))
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            for media in body.get("content", {}).values():
                schema = media.get("schema", {})
                if "title" in schema and "$ref" not in schema:
                    found.setdefault(schema["title"], schema)
    return dict(sorted(found.items()))


def generate_models(doc: dict[str, Any]) -> str:
    schemas = schemas_of(doc)
    parts: list[str] = []
    for name, schema in schemas.items():
        parts.append("\n" + model_source(name, schema) + "\n")
    error_codes = schemas["ErrorBody"]["properties"]["code"]["enum"]
    parts.append("\n# Every error.code the API answers with (ErrorBody.code); errors.py has a class for each.\n")
    parts.append("ERROR_CODES = (\n" + "".join(f"    {code!r},\n" for code in error_codes) + ")\n")
    parts.append("\nSCHEMAS: dict[str, type[BaseModel]] = {\n")
    parts.extend(f"    {name!r}: {name},\n" for name in schemas)
    parts.append("}\n\nfor _model in SCHEMAS.values():\n    _model.model_rebuild()\n")
    body = "".join(parts)
    typing = "Any, Literal" if re.search(r"\bAny\b", body) else "Literal"
    return HEADER.format(typing=typing) + body
