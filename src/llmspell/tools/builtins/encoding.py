"""``base64_encoder``, ``hash_calculator`` and ``uuid_generator``: small encoders.

Files they read or write (``input_file``, ``output_file``, ``input_type = "file"``) go
through the tool context's path confinement like every file tool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need, read_confined, write_confined


class Base64Encoder(Tool):
    name = "base64_encoder"
    description = "Encode text or a file to base64, or decode base64 (standard or url_safe)"
    category = "utility"
    security_level = "safe"
    capabilities = ("encoding",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["encode", "decode"]},
            "input": {"type": "string"},
            "input_file": {"type": "string"},
            "output_file": {"type": "string"},
            "variant": {"enum": ["standard", "url_safe"], "default": "standard"},
            "binary_input": {"type": "boolean",
                             "description": "encode: input is hex of the bytes"},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        operation = params["operation"]
        if "input_file" in params:
            data = read_confined(ctx, params["input_file"], tool=self.name,
                                 argument="input_file")
        elif "input" in params:
            text = params["input"]
            if params.get("binary_input") and operation == "encode":
                try:
                    data = bytes.fromhex(text)
                except ValueError:
                    raise ValidationError("params", "binary_input: input must be hex",
                                          path="$.input", got=text) from None
            else:
                data = text.encode("utf-8")
        else:
            raise ValidationError("params", "give 'input' or 'input_file'", path="$.input")
        url = params.get("variant") == "url_safe"
        if operation == "encode":
            out = base64.urlsafe_b64encode(data) if url else base64.b64encode(data)
            output: bytes = out
            result: dict[str, Any] = {"output": out.decode("ascii")}
        else:
            try:
                compact = b"".join(data.split())
                output = (base64.urlsafe_b64decode(compact) if url
                          else base64.b64decode(compact, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValidationError("params", f"is not valid base64: {exc}",
                                      path="$.input") from None
            try:
                result = {"output": output.decode("utf-8")}
            except UnicodeDecodeError:
                result = {"output_hex": output.hex(), "binary": True}
        if "output_file" in params:
            write_confined(ctx, params["output_file"], output, tool=self.name,
                           argument="output_file")
            result["output_file"] = params["output_file"]
        result.update(operation=operation, bytes=len(output))
        return result


ALGORITHMS = ("md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b",
              "blake2s")


class HashCalculator(Tool):
    name = "hash_calculator"
    description = ("Hash text, hex bytes or a file (md5, sha1, sha256, sha512, sha3, blake2), "
                   "or verify a hash")
    category = "utility"
    security_level = "restricted"
    capabilities = ("hashing", "files")
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["hash", "verify"], "default": "hash"},
            "algorithm": {"enum": list(ALGORITHMS), "default": "sha256"},
            "input": {"type": "string"},
            "input_type": {"enum": ["string", "hex", "file"], "default": "string"},
            "file": {"type": "string"},
            "format": {"enum": ["hex", "base64"], "default": "hex"},
            "expected_hash": {"type": "string"},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        operation = params.get("operation", "hash")
        kind = params.get("input_type", "file" if "file" in params else "string")
        if kind == "file":
            path = params.get("file", params.get("input"))
            if path is None:
                raise ValidationError("params", "input_type 'file' needs 'file'",
                                      path="$.file")
            data = read_confined(ctx, path, tool=self.name, argument="file")
        else:
            text = need(params, "input", operation)
            try:
                data = bytes.fromhex(text) if kind == "hex" else text.encode("utf-8")
            except ValueError:
                raise ValidationError("params", "input_type 'hex' needs hex digits",
                                      path="$.input", got=text) from None
        algorithm = params.get("algorithm", "sha256")
        digest = hashlib.new(algorithm, data).digest()
        shown = (base64.b64encode(digest).decode() if params.get("format") == "base64"
                 else digest.hex())
        result: dict[str, Any] = {"algorithm": algorithm, "hash": shown, "bytes": len(data)}
        if operation == "verify":
            expected = str(need(params, "expected_hash", operation)).strip()
            if params.get("format") != "base64":
                expected = expected.lower()
            result["valid"] = hmac.compare_digest(expected, shown)
        return result


NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID,
              "x500": uuid.NAMESPACE_X500}


def _format(value: uuid.UUID, style: str) -> str:
    if style == "simple":
        return value.hex
    if style == "urn":
        return value.urn
    if style == "braced":
        return "{" + str(value) + "}"
    return str(value)


class UuidGenerator(Tool):
    name = "uuid_generator"
    description = ("Generate UUIDs (v1, v4 random, v5 from a namespace and name; hyphenated, "
                   "simple, urn or braced), component ids, or validate a UUID")
    category = "utility"
    security_level = "safe"
    capabilities = ("ids",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["generate", "validate", "component_id"],
                          "default": "generate"},
            "version": {"enum": ["v1", "v4", "v5"], "default": "v4"},
            "namespace": {"type": "string", "default": "dns",
                          "description": "v5: dns, url, oid, x500 or a UUID"},
            "name": {"type": "string"},
            "format": {"enum": ["hyphenated", "simple", "urn", "braced"],
                       "default": "hyphenated"},
            "uuid": {"type": "string"},
            "prefix": {"type": "string", "maxLength": 64},
            "short": {"type": "boolean"},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        operation = params.get("operation", "generate")
        style = params.get("format", "hyphenated")
        if operation == "validate":
            text = str(need(params, "uuid", operation))
            try:
                parsed = uuid.UUID(text)
            except ValueError:
                return {"valid": False, "uuid": text}
            return {"valid": True, "uuid": text, "version": parsed.version,
                    "canonical": str(parsed)}
        if operation == "component_id":
            value = uuid.uuid4()
            core = value.hex[:8] if params.get("short") else value.hex
            prefix = params.get("prefix", "component")
            return {"id": f"{prefix}_{core}" if prefix else core}
        version = params.get("version", "v4")
        if version == "v5":
            namespace_text = params.get("namespace", "dns")
            namespace = NAMESPACES.get(namespace_text)
            if namespace is None:
                try:
                    namespace = uuid.UUID(namespace_text)
                except ValueError:
                    raise ValidationError("params", "must be dns, url, oid, x500 or a UUID",
                                          path="$.namespace", got=namespace_text) from None
            value = uuid.uuid5(namespace, str(need(params, "name", "generate v5")))
        elif version == "v1":
            value = uuid.uuid1()
        else:
            value = uuid.uuid4()
        return {"uuid": _format(value, style), "version": value.version, "format": style}
