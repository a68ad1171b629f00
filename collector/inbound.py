"""Decoding an agent's batch on the collector: strict first, lenient with a trace.

The wire format ignores unknown fields so that a newer agent can talk to an
older collector. Ignoring them silently loses data a misspelled field was
meant to carry (`pages_mono_total` instead of `pages_mono`), so the collector
decodes against strict mirrors of the wire types first (subclasses that
forbid unknown fields): a batch without unknown fields (nearly all of them)
is decoded once, the mirror's result being the batch. Only when that fails
is the body decoded leniently and walked to name every unknown field path.

Nesting is bounded: the typed decoders stop at the first unknown key without
descending into its value, and the walk refuses anything deeper than
`MAX_DEPTH`, so a 100,000-deep unknown value is a 400, never a RecursionError.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

import msgspec

from agent import wire
from agent.wire import Batch, WireError

__all__ = ["MAX_DEPTH", "MAX_PATHS", "Decoded", "decode_batch"]

#: deepest JSON nesting an unknown value may have (the schema itself is < 10 deep)
MAX_DEPTH = 64
#: distinct unknown paths reported per batch (the rest are counted, not named)
MAX_PATHS = 50
_MAX_PATH_LEN = 200


class Decoded(msgspec.Struct, frozen=True):
    batch: Batch
    #: unknown field paths, indices folded: `reports[].cpu.temp_c`
    unknown: tuple[str, ...] = ()


def _strict_type(tp: Any, done: dict[type, type]) -> Any:
    """`tp` with every wire Struct replaced by a mirror that forbids unknown fields."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _mirror(tp, done)
    origin = typing.get_origin(tp)
    if origin is None:
        return tp
    args = typing.get_args(tp)
    if origin is Annotated:
        return Annotated[(_strict_type(args[0], done), *tp.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_strict_type(a, done) for a in args)]  # noqa: UP007 - built from a tuple
    if origin is list:
        return list[_strict_type(args[0], done)]  # type: ignore[misc]
    if origin is dict:
        return dict[_strict_type(args[0], done), _strict_type(args[1], done)]  # type: ignore[misc]
    return tp


def _mirror(cls: type[msgspec.Struct], done: dict[type, type]) -> type:
    """A subclass of `cls` that forbids unknown fields, its nested structs
    mirrored too: what the strict decoder builds is a `cls` (same fields,
    same encoding), so a batch it accepts needs no second decode."""
    if cls in done:
        return done[cls]
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(cls):
        tp = _strict_type(f.type, done)
        if tp == f.type:
            continue  # inherited as it is
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, tp, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, tp, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, tp))
    mirror = msgspec.defstruct(f"Strict{cls.__name__}", fields, bases=(cls,), forbid_unknown_fields=True)
    done[cls] = mirror
    return mirror


_strict_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_strict_type(Batch, {}))
_generic_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def decode_batch(body: bytes) -> Decoded:
    """Decode and validate a batch; raises WireError naming the offending field."""
    try:
        strict: Batch = _strict_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        pass  # the lenient decode below names the problem, or finds only unknown fields
    else:
        return Decoded(strict)
    batch = wire.decode_batch(body)  # WireError for anything but unknown fields
    try:
        raw = _generic_decoder.decode(body)
    except RecursionError as exc:  # pragma: no cover - wire.decode_batch refuses it first
        raise WireError("JSON nested too deeply", [f"more than {MAX_DEPTH} levels"]) from exc
    found: dict[str, None] = {}
    _walk(raw, Batch, "", 0, found)
    return Decoded(batch, tuple(found))


def _walk(value: Any, tp: Any, path: str, depth: int, found: dict[str, None]) -> None:
    if depth > MAX_DEPTH:
        raise WireError("JSON nested too deeply", [f"{path or '$'}: more than {MAX_DEPTH} levels"])
    struct = _struct_of(tp)
    if struct is not None:
        if not isinstance(value, dict):
            return
        known = _FIELDS.setdefault(struct, {f.encode_name: f.type for f in msgspec.structs.fields(struct)})
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if key in known:
                _walk(item, known[key], child, depth + 1, found)
            else:
                if len(found) < MAX_PATHS:
                    found.setdefault(child[:_MAX_PATH_LEN], None)
                _depth_check(item, child, depth + 1)
        return
    item_type = _list_item(tp)
    if item_type is not None and isinstance(value, list):
        for item in value:
            _walk(item, item_type, f"{path}[]", depth + 1, found)


def _depth_check(value: Any, path: str, depth: int) -> None:
    # Iterative: an unknown value is not walked for names, only measured.
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level > MAX_DEPTH:
            raise WireError("JSON nested too deeply", [f"{path}: more than {MAX_DEPTH} levels"])
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)


_FIELDS: dict[type, dict[str, Any]] = {}


def _unwrap(tp: Any) -> list[Any]:
    """The alternatives of a type, without Annotated and None."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [alt for arg in typing.get_args(tp) for alt in _unwrap(arg)]
    return [] if tp is type(None) else [tp]


def _struct_of(tp: Any) -> type[msgspec.Struct] | None:
    for alt in _unwrap(tp):
        if isinstance(alt, type) and issubclass(alt, msgspec.Struct):
            return alt
    return None


def _list_item(tp: Any) -> Any:
    for alt in _unwrap(tp):
        if typing.get_origin(alt) is list:
            return typing.get_args(alt)[0]
    return None
