"""Migration plans: which values a migration changes and how, checked before anything runs.

::

    {"from_version": 1, "to_version": 2,
     "scope": "agent:*",            # optional glob over scopes; none: every scope
     "key": "profile*",             # optional glob over keys; none: every key
     "name": "m002_split_name",     # optional; the id under which it is recorded
     "transformations": [
         {"field": "old_field", "transform": "copy", "to": "new_field"},
         {"field": "deprecated", "transform": "remove"},
         {"field": "name", "transform": "rename", "to": "full_name"},
         {"field": "retries", "transform": "default", "value": 3},
         {"field": "age", "transform": "convert", "to": "int"},        # int, float, str, bool
         {"field": "full_name", "transform": "split", "into": ["first", "last"],
          "separator": " "},
         {"fields": ["first", "last"], "transform": "merge", "to": "name", "separator": " "},
         {"field": "tags", "transform": "custom", "fn": fn},  # fn(field_value, ctx)
         {"transform": "custom", "fn": fn},                   # fn(value, ctx): whole value
     ],
     "validate_before": {...}, "validate_after": {...}}     # see .validation

A plan applies to every value at ``from_version`` whose scope and key match. Its id is its
``name``, or else ``v<from>-v<to>-<hash of the definition>``, so applying the same plan
twice finds it recorded and does nothing. The transforms are in :mod:`.transforms`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmspell.codec import to_jsonable
from llmspell.errors import ValidationError
from llmspell.state.migration.validation import Validation, callable_name, parse_validation
from llmspell.state.versions import Version, check_version, same
from llmspell.validation import check_flag, check_known_keys, check_texts

TRANSFORMS = ("copy", "rename", "default", "remove", "convert", "split", "merge", "custom")
CONVERSIONS = ("int", "float", "str", "bool")
#: The keys each transform takes besides ``transform``.
_KEYS: dict[str, tuple[str, ...]] = {
    "copy": ("field", "to"),
    "rename": ("field", "to"),
    "default": ("field", "value"),
    "remove": ("field",),
    "convert": ("field", "to", "type"),
    "split": ("field", "into", "separator", "keep"),
    "merge": ("fields", "to", "separator", "keep"),
    "custom": ("field", "fn", "func", "name"),
}
_PLAN_KEYS = ("from_version", "to_version", "transformations", "scope", "pattern",
              "scope_pattern", "key", "key_pattern", "name", "id", "description", "validate",
              "validate_before", "validate_after")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


@dataclass(frozen=True)
class Transform:
    """One step of a plan (see the module docstring for each kind's keys)."""

    kind: str
    index: int
    field: str | None = None
    to: str | None = None
    value: Any = None
    into: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    separator: str = " "
    keep: bool = False
    fn: Callable[..., Any] | None = None
    name: str = ""

    def describe(self) -> str:
        """``#2 copy 'old_field'`` (1-based, as in a Lua list): how errors name it."""
        target = self.field or ",".join(self.fields)
        text = f"#{self.index + 1} {self.kind}"
        if self.name:
            text += f" {self.name!r}"
        return f"{text} {target!r}" if target else text

    def spec(self) -> dict[str, Any]:
        """The transform as plain data (custom functions by name)."""
        out: dict[str, Any] = {"transform": self.kind}
        for name in ("field", "to", "name"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.kind == "default":
            out["value"] = to_jsonable(self.value)[0]
        if self.into:
            out["into"] = list(self.into)
        if self.fields:
            out["fields"] = list(self.fields)
        if self.kind in ("split", "merge"):
            out["separator"] = self.separator
            out["keep"] = self.keep
        if self.fn is not None:
            out["fn"] = callable_name(self.fn)
        return out


@dataclass(frozen=True)
class MigrationPlan:
    """A checked plan. Build with :meth:`from_spec` (a dict or Lua table) or directly."""

    from_version: Version
    to_version: Version
    transformations: tuple[Transform, ...] = ()
    scope: str | None = None
    key: str | None = None
    name: str | None = None
    description: str = ""
    validate_before: Validation | None = None
    validate_after: Validation | None = None
    _id: str = field(default="", repr=False, compare=False)

    @property
    def id(self) -> str:
        """The name, or ``v<from>-v<to>-<12 hex of the definition's SHA-256>``."""
        if self.name:
            return self.name
        if not self._id:
            digest = hashlib.sha256(orjson.dumps(self.spec(), option=orjson.OPT_SORT_KEYS))
            object.__setattr__(self, "_id", f"v{self.from_version}-v{self.to_version}-"
                                            f"{digest.hexdigest()[:12]}")
        return self._id

    @property
    def has_custom(self) -> bool:
        return any(t.fn is not None for t in self.transformations) or any(
            v is not None and v.check is not None
            for v in (self.validate_before, self.validate_after))

    def spec(self) -> dict[str, Any]:
        """The plan as plain data (what the id hashes and what reports show)."""
        out: dict[str, Any] = {"from_version": self.from_version, "to_version": self.to_version,
                               "transformations": [t.spec() for t in self.transformations]}
        for name in ("scope", "key", "name", "description"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("validate_before", "validate_after"):
            rules = getattr(self, name)
            if rules is not None:
                out[name] = rules.spec()
        return out

    def summary(self) -> dict[str, Any]:
        """A short description for events, hooks and listings."""
        return {"id": self.id, "from_version": self.from_version,
                "to_version": self.to_version, "scope": self.scope, "key": self.key,
                "transformations": len(self.transformations)}

    @classmethod
    def from_spec(cls, spec: Any) -> MigrationPlan:
        """Check and build a plan from a dict (or return ``spec`` if it is one already).

        Raises:
            ValidationError: naming the bad key (``transformations[2].to``) and the rule.
        """
        if isinstance(spec, MigrationPlan):
            return spec
        if not isinstance(spec, Mapping):
            raise ValidationError("plan", "must be a table {from_version, to_version, "
                                  "transformations, ...}", got=spec)
        check_known_keys(spec, _PLAN_KEYS, "plan", noun="field")
        from_version = _version(spec.get("from_version"), "from_version")
        to_version = _version(spec.get("to_version"), "to_version")
        if same(from_version, to_version):
            raise ValidationError("to_version", f"must differ from from_version "
                                  f"({from_version})", got=to_version)
        raw = spec.get("transformations")
        if raw is None:
            raw = []
        if not isinstance(raw, list | tuple):
            raise ValidationError("transformations", "must be a list of transforms",
                                  got=raw)
        transforms = tuple(parse_transform(item, i) for i, item in enumerate(raw))
        name = _one_of(spec, "name", "id")
        if name is not None:
            _check_name(name)
        after = _one_of(spec, "validate_after", "validate")
        return cls(from_version, to_version, transforms,
                   scope=_glob(_one_of(spec, "scope", "pattern", "scope_pattern"), "scope"),
                   key=_glob(_one_of(spec, "key", "key_pattern"), "key"), name=name,
                   description=_text(spec.get("description"), "description"),
                   validate_before=parse_validation(spec.get("validate_before"),
                                                    "validate_before"),
                   validate_after=parse_validation(after, "validate_after"))


def parse_transform(spec: Any, index: int) -> Transform:
    """Check one transform table; errors name ``transformations[i]`` (0-based) and the key."""
    where = f"transformations[{index}]"
    if isinstance(spec, Transform):
        return spec
    if not isinstance(spec, Mapping):
        raise ValidationError(where, "must be a table such as {field = \"a\", transform = "
                              "\"copy\", to = \"b\"}", got=spec)
    kind = spec.get("transform")
    if kind not in TRANSFORMS:
        raise ValidationError(f"{where}.transform", f"must be one of {', '.join(TRANSFORMS)}",
                              got=kind)
    allowed = _KEYS[kind]
    check_known_keys(spec, ("transform", *allowed), where, noun=f"{kind} transform field")

    def need(name: str) -> str:
        return _field(spec.get(name), f"{where}.{name}", required=True)  # type: ignore[return-value]

    args: dict[str, Any] = {}
    if kind in ("copy", "rename"):
        args = {"field": need("field"), "to": need("to")}
    elif kind == "default":
        if "value" not in spec:
            raise ValidationError(f"{where}.value", "is required: the value to set where the "
                                  "field is missing")
        to_jsonable(spec["value"], argument=f"{where}.value")  # storable, or an error
        args = {"field": need("field"), "value": spec["value"]}
    elif kind == "remove":
        args = {"field": need("field")}
    elif kind == "convert":
        target = _one_of(spec, "to", "type")
        if target not in CONVERSIONS:
            raise ValidationError(f"{where}.to", f"must be one of {', '.join(CONVERSIONS)}",
                                  got=target)
        args = {"field": need("field"), "to": target}
    elif kind == "split":
        into = _names(spec.get("into"), f"{where}.into")
        args = {"field": need("field"), "into": into,
                "separator": _separator(spec, where), "keep": _flag(spec, "keep", where)}
    elif kind == "merge":
        fields = _names(spec.get("fields"), f"{where}.fields")
        args = {"fields": fields, "to": need("to"), "separator": _separator(spec, where),
                "keep": _flag(spec, "keep", where)}
    else:
        fn = _one_of(spec, "fn", "func")
        if not callable(fn):
            raise ValidationError(f"{where}.fn", "must be a function: fn(value, ctx) -> new "
                                  "value (nil keeps it)", got=fn)
        args = {"field": _field(spec.get("field"), f"{where}.field", required=False), "fn": fn,
                "name": _text(spec.get("name"), f"{where}.name")}
    return Transform(kind, index, **args)


def _version(value: Any, argument: str) -> Version:
    """A schema version (:mod:`llmspell.state.versions`); values saved with no declared schema
    are at version 1."""
    return check_version(value, argument)


def _field(value: Any, argument: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(argument, "must be a field name (a non-empty string)", got=value)
    return value


def _names(value: Any, argument: str) -> tuple[str, ...]:
    names = check_texts(value, argument, "field names", non_empty=True, ordered=True)
    if not names:
        raise ValidationError(argument, "must be a non-empty list of field names", got=value)
    return tuple(names)


def _separator(spec: Mapping[str, Any], where: str) -> str:
    value = spec.get("separator", " ")
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}.separator", "must be a non-empty string", got=value)
    return value


def _flag(spec: Mapping[str, Any], name: str, where: str) -> bool:
    return check_flag(spec.get(name, False), f"{where}.{name}")


def _text(value: Any, argument: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(argument, "must be a string", got=value)
    return value


def _glob(value: Any, argument: str) -> str | None:
    if value is None or value == "*":
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(argument, "must be a glob such as 'agent:*' (or nil for all)",
                              got=value)
    return value


def _one_of(spec: Mapping[str, Any], *names: str) -> Any:
    given = [n for n in names if spec.get(n) is not None]
    if len(given) > 1:
        raise ValidationError(given[1], f"is another spelling of {given[0]!r}; give one")
    return spec.get(given[0]) if given else None


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name or len(name) > 120 or not set(name) <= _NAME_CHARS:
        raise ValidationError("name", "must be 1-120 characters of letters, digits and _ . : -",
                              got=name)
