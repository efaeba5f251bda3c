"""Declarative field mappings: load, validate and apply ``mappings/<connector>.yaml``.

The file format is documented in ``docs/mapping-format.md``. A :class:`Mapping` turns vendor
records into canonical dicts (inbound), canonical golden records into vendor fields (outbound),
and compares the two in canonical space so that formatting differences never cause writes.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pydantic
import yaml

from hub import paths
from hub.errors import ConfigError, MappingError
from hub.transforms import NONE_TO_NONE, Context, Fn, Transform, identity
from schemas.canonical import ENTITIES

DIRECTIONS = ("in", "out", "both")
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "mappings"
REF_PREFIX = "@"

RefResolver = Callable[[str], str | None]  # "@connector:stream:id" -> entity id
VendorIdLookup = Callable[[str, str], str | None]  # (stream, entity id) -> vendor id
Chain = tuple[tuple[Fn, Any], ...]  # (transform function, its argument), in call order

_BLANK: tuple[Any, ...] = (None, "", [])  # values a mapping never writes


def _type_phones(canonical: dict[str, Any]) -> None:
    """Give a phone of unknown type the type 'mobile' when the number is a mobile line, so
    tools that keep mobile and office numbers apart receive it in the right field."""
    phones = canonical.get("phones")
    if not phones:
        return
    is_mobile = _is_mobile()
    for phone in phones:
        if isinstance(phone, dict) and not phone.get("type") and phone.get("number") and is_mobile(phone["number"]):
            phone["type"] = "mobile"


@cache
def _is_mobile() -> Callable[[str], bool]:
    # imported once, when first needed: hub.linker pulls in the identity package (an import
    # statement in the loop cost a module lock per record)
    from hub.linker import is_mobile

    return is_mobile


def make_ref(connector: str, stream: str, vendor_id: Any) -> str:
    """The canonical placeholder for a reference to another source record."""
    return f"{REF_PREFIX}{connector}:{stream}:{vendor_id}"


def parse_ref(value: str) -> tuple[str, str, str] | None:
    """``(connector, stream, id)`` of a reference, or ``("", kind, value)`` for an identity one."""
    if not isinstance(value, str) or not value.startswith(REF_PREFIX):
        return None
    if value.startswith(REF_PREFIX * 2):
        kind, _, ident = value[2:].partition(":")
        return "", kind, ident
    connector, stream, vendor_id = value[1:].split(":", 2)
    return connector, stream, vendor_id


@dataclass(frozen=True)
class Issue:
    """A problem found in a mapping file, with file and line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class FieldMap:
    field: str
    canonical: tuple[str, ...]
    direction: str
    transforms: list[tuple[Transform, Any]]
    ref: str | None
    line: int
    ref_by: str | None = None  # link to the person holding this identifier (e.g. an email)

    def __post_init__(self) -> None:
        # plain names skip the path machinery on the hot path
        self.plain_field = "." not in self.field and "[" not in self.field
        self.get_field = paths.getter(self.field)
        self.plain_canonical = len(self.canonical) == 1 and "." not in self.canonical[0] and "[" not in self.canonical[0]

    @property
    def inbound(self) -> bool:
        return self.direction in ("in", "both")

    @property
    def outbound(self) -> bool:
        return self.direction in ("out", "both")


def _chain(pairs: Iterable[tuple[Transform, Any]], direction: str) -> Chain:
    """The functions of a transform chain, leaving out the ones that return their value."""
    fns = ((getattr(t, direction), arg) for t, arg in pairs)
    return tuple((fn, arg) for fn, arg in fns if fn is not identity)


# One field's compiled steps (see StreamMap): tuples, unpacked in the loop, are the cheapest
# form to walk for every field of every record.
_InStep = tuple[
    str | None,  # vendor key when the field is a plain name (read directly)
    paths.Getter,  # otherwise: the vendor value's getter
    Chain,  # inbound transforms
    bool,  # whether an empty (None) vendor value goes through them: it always ends up unwritten else
    str | None,  # canonical key when it is a plain name (stored directly)
    paths.Setter,  # otherwise: the canonical path's setter
    tuple[paths.Setter, ...] | None,  # several canonical paths: one setter each
    str | None,  # ref: the stream referenced
    str | None,  # ref_by: the placeholder's prefix
    str,  # vendor field (errors name it)
]
_OutStep = tuple[
    str,  # vendor field
    tuple[paths.Getter, ...] | None,  # several canonical paths: their loose getters
    paths.Getter,  # otherwise: the canonical path's loose getter
    str | None,  # ref
    Chain,  # outbound transforms, last first
    paths.Setter | None,  # a dotted vendor field's setter (None: a plain key)
]
_DiffStep = tuple[
    FieldMap,
    str | None,  # ref
    tuple[tuple[str, paths.Getter, paths.Getter, paths.Getter], ...],  # path, want, have, all
]


@dataclass
class StreamMap:
    """One stream's field list; compiled on first use into the steps the hot paths walk.

    A loaded mapping is not changed afterwards: the compiled steps are kept for its lifetime.
    """

    stream: str
    entity: str
    fields: list[FieldMap]
    line: int
    create: bool = True  # whether the hub may create records in this stream

    def top_fields(self) -> set[str]:
        """Top-level canonical fields this stream writes on the way out."""
        return {paths.top(c) for f in self.fields if f.outbound for c in f.canonical}

    @cached_property
    def inbound_steps(self) -> tuple[_InStep, ...]:
        steps = []
        for fm in self.fields:
            if not fm.inbound:
                continue
            multi = tuple(paths.setter(c) for c in fm.canonical) if len(fm.canonical) > 1 else None
            first = fm.canonical[0]
            chain = _chain(fm.transforms, "inbound")
            steps.append((
                fm.field if fm.plain_field else None,
                fm.get_field,
                chain,
                any(fn not in NONE_TO_NONE for fn, _ in chain),
                first if fm.plain_canonical else None,
                paths.setter(first),
                multi,
                fm.ref or None,
                f"{REF_PREFIX}{REF_PREFIX}{fm.ref_by}:" if fm.ref_by else None,
                fm.field,
            ))
        return tuple(steps)

    @cached_property
    def outbound_steps(self) -> tuple[_OutStep, ...]:
        return tuple(
            (
                fm.field,
                tuple(paths.getter(c, loose=True) for c in fm.canonical) if len(fm.canonical) > 1 else None,
                paths.getter(fm.canonical[0], loose=True),
                fm.ref or None,
                _chain(reversed(fm.transforms), "outbound"),
                paths.setter(fm.field) if "." in fm.field else None,
            )
            for fm in self.fields
            if fm.outbound
        )

    @cached_property
    def diff_steps(self) -> tuple[_DiffStep, ...]:
        return tuple(
            (
                fm,
                fm.ref or None,
                tuple(
                    (c, paths.getter(c, loose=True), paths.getter(c), paths.all_getter(c)) for c in fm.canonical
                ),
            )
            for fm in self.fields
            if fm.outbound
        )

    @cached_property
    def types_phones(self) -> bool:
        return self.entity in ("person", "organization")


@dataclass
class Mapping:
    """One connector's mapping file, loaded and checked."""

    connector: str
    streams: dict[str, StreamMap]
    file: str
    ctx: Context = field(default_factory=Context)

    def stream(self, name: str) -> StreamMap:
        try:
            return self.streams[name]
        except KeyError:
            raise ConfigError(f"{self.file}: stream {name!r} is not mapped") from None

    # -- inbound ---------------------------------------------------------------------------
    def to_canonical(self, stream: str, data: dict[str, Any], *, connector: str | None = None) -> dict[str, Any]:
        """Map a vendor record to a canonical dict (no validation; see :meth:`validate`)."""
        smap = self.stream(stream)
        out: dict[str, Any] = {}
        name = connector or self.connector
        ctx = self.ctx
        if not isinstance(data, dict):
            data = {}  # every getter reads None from a non-dict, as from an empty one
        for vendor_key, get, chain, none_in, key, put, multi, ref, ref_by, vendor_field in smap.inbound_steps:
            value = data.get(vendor_key) if vendor_key is not None else get(data)
            if value is None and not none_in:
                continue
            if chain:
                try:
                    for fn, arg in chain:
                        value = fn(value, arg, ctx)
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise MappingError(str(exc), field=vendor_field) from None
            if multi is not None:
                for put_part, part in zip(multi, value or (), strict=False):
                    if part not in _BLANK:
                        put_part(out, part)
                continue
            if value in _BLANK:
                continue
            if ref is not None:
                value = make_ref(name, ref, value)
            elif ref_by is not None:
                value = f"{ref_by}{value}"
            if key is not None:
                out[key] = value
            else:
                put(out, value)
        if smap.types_phones:
            _type_phones(out)
        return out

    def validate(self, stream: str, canonical: dict[str, Any]) -> None:
        """Check a canonical dict against the schema; MappingError names the field."""
        model = ENTITIES[self.stream(stream).entity]
        try:
            # what model_validate does, without building the keyword arguments on every record
            model.__pydantic_validator__.validate_python(canonical)
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            source = self._source_of(stream, loc)
            raise MappingError(
                f"canonical field {loc!r} is invalid: {err['msg']}", field=source or loc
            ) from None

    def _source_of(self, stream: str, loc: str) -> str | None:
        top = loc.split(".", 1)[0]
        for fm in self.stream(stream).fields:
            if any(paths.top(c) == top for c in fm.canonical):
                return fm.field
        return None

    # -- outbound --------------------------------------------------------------------------
    def to_vendor(
        self,
        stream: str,
        golden: dict[str, Any],
        *,
        only: Iterable[str] | None = None,
        vendor_id: VendorIdLookup | None = None,
    ) -> dict[str, Any]:
        """Vendor fields for ``golden`` (all outbound fields, or only the vendor fields named)."""
        wanted = set(only) if only is not None else None
        out: dict[str, Any] = {}
        ctx = self.ctx
        for vendor_field, getters, get, ref, chain, put in self.stream(stream).outbound_steps:
            if wanted is not None and vendor_field not in wanted:
                continue
            if getters is not None:
                value: Any = tuple([g(golden) for g in getters])
                if not any(value):
                    continue
            else:
                value = get(golden)
                if value in _BLANK:
                    continue
                if ref is not None:
                    value = vendor_id(ref, value) if vendor_id else None
                    if value is None:
                        continue
            for fn, arg in chain:
                value = fn(value, arg, ctx)
            if value is None:
                continue
            if put is None:
                out[vendor_field] = value
            else:
                put(out, value)
        return out

    def diff(
        self,
        stream: str,
        golden: dict[str, Any],
        current: dict[str, Any] | None,
        *,
        resolve: RefResolver | None = None,
    ) -> dict[str, tuple[Any, Any]]:
        """Vendor fields whose canonical value in the tool differs from the golden record.

        Returns ``{vendor_field: (tool's canonical value, golden canonical value)}``. A tool
        value counts as in sync when it is any member of the golden list the path selects,
        and an empty golden value never asks to clear the tool.
        """
        current = current or {}
        changes: dict[str, tuple[Any, Any]] = {}
        for fm, ref, checks in self.stream(stream).diff_steps:
            for path, want_of, have_of, all_of in checks:
                want = want_of(golden)
                if want in _BLANK:
                    continue
                have = have_of(current)
                if ref is not None and have is not None and resolve is not None:
                    have = resolve(have)
                if have == want:
                    continue
                if have is not None and have in all_of(golden):
                    continue
                if ref is None and have is not None and self._round_trip(fm, golden, path) == have:
                    continue
                changes[fm.field] = (have, want)
                break
        return changes

    def _round_trip(self, fm: FieldMap, golden: dict[str, Any], path: str) -> Any:
        """What the tool would hand back for the golden value: a tool that cannot hold a value
        exactly (folds full-width letters, renames a time zone) is in sync with what it can hold,
        or the hub would write the same value again on every run."""
        value: Any = tuple(paths.get(golden, c, loose=True) for c in fm.canonical) if len(fm.canonical) > 1 else paths.get(golden, path, loose=True)
        try:
            for transform, arg in reversed(fm.transforms):
                value = transform.outbound(value, arg, self.ctx)
            for transform, arg in fm.transforms:
                value = transform.inbound(value, arg, self.ctx)
        except (ValueError, TypeError, ArithmeticError):
            return None
        if len(fm.canonical) > 1:
            return dict(zip(fm.canonical, value or (), strict=False)).get(path)
        return value


# -- loading -----------------------------------------------------------------------------
class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping as ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _canonical_path_ok(model: type[pydantic.BaseModel], path: str) -> str | None:
    """None when ``path`` exists in ``model``, else what is wrong."""
    current: Any = model
    for seg in paths.parse(path):
        if current in (dict, Any) or current is None:
            return None  # free-form (custom fields, maps)
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return f"{seg.key!r} is below a non-object field"
        if seg.key not in fields:
            return f"unknown canonical field {seg.key!r} in {path!r} (known: {', '.join(sorted(fields))})"
        current = _inner(fields[seg.key].annotation, seg.is_list)
    return None


def _inner(annotation: Any, is_list: bool) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return args[0] if is_list else list
    if origin is dict:
        return _DictOf(args[1]) if len(args) > 1 else dict
    if args and origin is not None and len(args) == 1:  # Optional[X]
        return _inner(args[0], is_list)
    return annotation


class _DictOf:
    """A ``dict[str, Model]`` field: any key, then the model's fields."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.model_fields = _AnyKey(value)


class _AnyKey(dict):  # type: ignore[type-arg]
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return _FakeField(self.value)


@dataclass
class _FakeField:
    annotation: Any


def load_mapping_file(
    path: Path,
    transforms: dict[str, Transform],
    *,
    streams: Iterable[str] | None = None,
    default_region: str = "JP",
) -> tuple[Mapping | None, list[Issue]]:
    """Load and check one mapping file; returns the mapping (None if unusable) and issues.

    Args:
        path: the YAML file.
        transforms: the transforms registered by plugins.
        streams: the connector's stream names, to report unknown streams.
        default_region: the phone region for numbers written without a country code.
    """
    file = str(path)
    issues: list[Issue] = []
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Issue(file, (mark.line + 1) if mark else 1, f"not valid YAML: {exc}")]
    if not isinstance(raw, dict) or "streams" not in raw:
        return None, [Issue(file, 1, "a mapping file needs 'connector' and 'streams' keys")]
    value_maps = _strip_lines(raw.get("value_maps") or {})
    known_streams = set(streams) if streams is not None else None
    connector = raw.get("connector") or path.stem
    result: dict[str, StreamMap] = {}
    for sname, sdef in raw["streams"].items():
        if sname == "__line__":
            continue
        sline = sdef.get("__line__", 1) if isinstance(sdef, dict) else 1
        if known_streams is not None and sname not in known_streams:
            issues.append(Issue(file, sline, f"unknown stream {sname!r} for connector {connector!r} (it has: {', '.join(sorted(known_streams))})"))
            continue
        if not isinstance(sdef, dict):
            issues.append(Issue(file, sline, f"stream {sname!r} must be a mapping"))
            continue
        entity = sdef.get("entity")
        if entity not in ENTITIES:
            issues.append(Issue(file, sline, f"stream {sname!r}: unknown entity {entity!r} (known: {', '.join(ENTITIES)})"))
            continue
        unknown = set(sdef) - {"entity", "fields", "create", "__line__"}
        if unknown:
            issues.append(Issue(file, sline, f"stream {sname!r}: unknown key(s) {', '.join(sorted(unknown))} (allowed: entity, fields, create)"))
        fields = []
        for fdef in sdef.get("fields") or []:
            fm = _field(fdef, file, entity, transforms, value_maps, issues, known_streams)
            if fm:
                fields.append(fm)
        result[sname] = StreamMap(sname, entity, fields, sline, bool(sdef.get("create", True)))
    ctx = Context(default_region=default_region, value_maps=value_maps)
    return Mapping(connector, result, file, ctx), issues


def _field(
    fdef: Any,
    file: str,
    entity: str,
    transforms: dict[str, Transform],
    value_maps: dict[str, Any],
    issues: list[Issue],
    known_streams: set[str] | None,
) -> FieldMap | None:
    line = fdef.get("__line__", 1) if isinstance(fdef, dict) else 1
    if not isinstance(fdef, dict) or "field" not in fdef or "canonical" not in fdef:
        issues.append(Issue(file, line, "each field needs 'field' (vendor) and 'canonical'"))
        return None
    unknown_keys = set(fdef) - {"field", "canonical", "direction", "transform", "ref", "ref_by", "__line__"}
    if unknown_keys:
        issues.append(Issue(file, line, f"unknown key(s) {', '.join(sorted(unknown_keys))} (allowed: field, canonical, direction, transform, ref, ref_by)"))
    canonical = fdef["canonical"]
    canonical = tuple(canonical) if isinstance(canonical, list) else (canonical,)
    ok = True
    for cpath in canonical:
        try:
            problem = _canonical_path_ok(ENTITIES[entity], cpath)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            issues.append(Issue(file, line, f"field {fdef['field']!r}: {problem}"))
            ok = False
    direction = fdef.get("direction", "both")
    if direction not in DIRECTIONS:
        issues.append(Issue(file, line, f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}"))
        ok = False
    chain = []
    specs = fdef.get("transform")
    for spec in specs if isinstance(specs, list) else ([specs] if specs else []):
        spec = _strip_lines(spec)
        name, arg = (next(iter(spec.items())) if isinstance(spec, dict) else (spec, None))
        if name not in transforms:
            issues.append(Issue(file, line, f"field {fdef['field']!r}: unknown transform {name!r} (known: {', '.join(sorted(transforms))})"))
            ok = False
            continue
        if name == "value_map" and isinstance(arg, str) and arg not in value_maps:
            issues.append(Issue(file, line, f"field {fdef['field']!r}: value map {arg!r} is not defined under value_maps"))
            ok = False
        chain.append((transforms[name], arg))
    multi = len(canonical) > 1
    if multi and not any(t.multi for t, _ in chain):
        issues.append(Issue(file, line, f"field {fdef['field']!r}: several canonical fields need a transform that splits (e.g. 'name')"))
        ok = False
    ref = fdef.get("ref")
    if ref and known_streams is not None and ref not in known_streams:
        issues.append(Issue(file, line, f"field {fdef['field']!r}: ref to unknown stream {ref!r}"))
        ok = False
    ref_by = fdef.get("ref_by")
    if ref_by is not None:
        if ref_by not in ("email", "phone"):
            issues.append(Issue(file, line, f"field {fdef['field']!r}: ref_by must be email or phone, not {ref_by!r}"))
            ok = False
        if direction != "in":
            issues.append(Issue(file, line, f"field {fdef['field']!r}: a ref_by link is read-only; add 'direction: in'"))
            ok = False
    if not ok:
        return None
    return FieldMap(str(fdef["field"]), canonical, direction, chain, ref, line, ref_by)


def mapping_dirs(workspace: Path | None, plugin_dirs: Iterable[Path]) -> list[Path]:
    """Where mapping files are looked for, first match wins: workspace, plugins, built-in."""
    dirs = [workspace / "mappings"] if workspace else []
    return [*dirs, *plugin_dirs, BUILTIN_DIR]


def find_mapping_file(name: str, dirs: Iterable[Path]) -> Path:
    dirs = list(dirs)
    for d in dirs:
        candidate = d / f"{name}.yaml"
        if candidate.exists():
            return candidate
    raise ConfigError(f"no mapping file {name}.yaml (looked in: {', '.join(str(d) for d in dirs)})")
