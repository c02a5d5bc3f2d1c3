"""``FeatureGraph``: the registry of feature definitions, their order, plans and snapshots."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from metaxy.exceptions import (
    CycleError,
    DefinitionError,
    DuplicateFeatureError,
    InvalidKeyError,
    UnknownFeatureError,
)
from metaxy.models.fields import LineageKind, coerce_feature_key
from metaxy.models.keys import FeatureKey, FieldKey
from metaxy.models.plan import FeaturePlan, build_plan, sha256_hex
from metaxy.models.spec import FeatureDep, FeatureSpec

if TYPE_CHECKING:
    from metaxy.models.feature import Feature

SNAPSHOT_FORMAT = 1


class FeatureGraph:
    """Feature definitions keyed by ``FeatureKey``.

    Feature classes register themselves in the *active* graph when defined. ``with graph.use():``
    makes ``graph`` active for the block, which isolates tests and notebooks. A graph rebuilt from a
    snapshot holds specs only (no classes), and supports every query but instantiating rows.
    """

    def __init__(self) -> None:
        self._specs: dict[FeatureKey, FeatureSpec] = {}
        self._classes: dict[FeatureKey, type[Feature]] = {}
        self._plans: dict[FeatureKey, FeaturePlan] = {}

    # -- registration -------------------------------------------------------------------------

    def add_feature(self, feature: type[Feature] | FeatureSpec) -> None:
        """Register a feature class (or a bare spec). Re-running the same class definition replaces it."""
        spec = feature if isinstance(feature, FeatureSpec) else feature.spec()
        existing = self._classes.get(spec.key)
        if (
            existing is not None
            and not isinstance(feature, FeatureSpec)
            and not _same_definition(existing, feature)
        ):
            raise DuplicateFeatureError(
                f"Feature key {spec.key.to_string()!r} is defined twice: by "
                f"{existing.__module__}.{existing.__qualname__} and by {feature.__module__}.{feature.__qualname__}.",
                hint="Give one of the classes another key, or define it inside its own `with FeatureGraph().use():`.",
            )
        self._check_identity_deps(spec)
        _check_table_name(spec.key, self._specs)
        self._specs[spec.key] = spec
        if isinstance(feature, FeatureSpec):
            self._classes.pop(spec.key, None)
        else:
            self._classes[spec.key] = feature
        self._plans.clear()

    def _check_identity_deps(self, spec: FeatureSpec) -> None:
        """Refuse a plain dependency that would give ``spec`` several rows per sample, in either direction.

        Checked when both ends are in the graph, whichever is defined second.
        """
        for dep in spec.deps:
            if dep.feature in self._specs and dep.feature != spec.key:
                _check_identity_dep(spec, self._specs[dep.feature])
        for other in self._specs.values():
            if other.key != spec.key and any(d.feature == spec.key for d in other.deps):
                _check_identity_dep(other, spec)

    def remove_feature(self, key: Any) -> None:
        key = coerce_feature_key(key)
        self._specs.pop(key, None)
        self._classes.pop(key, None)
        self._plans.clear()

    @contextmanager
    def use(self) -> Iterator[FeatureGraph]:
        """Make this graph the active one inside the block."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    @classmethod
    def get_active(cls) -> FeatureGraph:
        return _ACTIVE.get()

    # -- lookups ------------------------------------------------------------------------------

    @property
    def keys(self) -> list[FeatureKey]:
        return sorted(self._specs)

    @property
    def specs(self) -> dict[FeatureKey, FeatureSpec]:
        return dict(self._specs)

    def __contains__(self, key: object) -> bool:
        try:
            return coerce_feature_key(key) in self._specs
        except Exception:
            return False

    def __len__(self) -> int:
        return len(self._specs)

    def spec(self, key: Any) -> FeatureSpec:
        key = coerce_feature_key(key)
        try:
            return self._specs[key]
        except KeyError:
            raise UnknownFeatureError(
                f"Feature {key.to_string()!r} is not in the feature graph.",
                hint="Import the module defining it (or list it in entrypoints); known: "
                + (", ".join(k.to_string() for k in self.keys) or "none"),
            ) from None

    def feature_class(self, key: Any) -> type[Feature] | None:
        """The class registered for ``key``, or ``None`` for a graph rebuilt from a snapshot."""
        return self._classes.get(coerce_feature_key(key))

    # -- structure ----------------------------------------------------------------------------

    def _parents(self, key: FeatureKey) -> list[FeatureKey]:
        spec = self.spec(key)
        for dep in spec.deps:
            if dep.feature not in self._specs:
                raise UnknownFeatureError(
                    f"Feature {key.to_string()!r} depends on {dep.feature.to_string()!r}, which is not in the graph.",
                    hint=f"Define or import {dep.feature.to_string()!r} before resolving {key.to_string()!r}.",
                )
        return [d.feature for d in spec.deps]

    def topological_order(self, keys: Iterable[Any] | None = None) -> list[FeatureKey]:
        """Keys (all, or ``keys`` and their upstreams) with every upstream before its dependents."""
        wanted = self.keys if keys is None else [coerce_feature_key(k) for k in keys]
        order: list[FeatureKey] = []
        state: dict[FeatureKey, int] = {}  # 1 = on the current path, 2 = done

        def visit(key: FeatureKey, path: list[FeatureKey]) -> None:
            if state.get(key) == 2:
                return
            if state.get(key) == 1:
                cycle = [*path[path.index(key) :], key]
                raise CycleError(
                    "Feature dependencies form a cycle: " + " -> ".join(k.to_string() for k in cycle) + ".",
                    hint="Remove one of these dependencies.",
                )
            state[key] = 1
            for parent in sorted(self._parents(key)):
                visit(parent, [*path, key])
            state[key] = 2
            order.append(key)

        for key in sorted(wanted):
            visit(key, [])
        return order

    def upstream_of(self, key: Any) -> list[FeatureKey]:
        """All transitive upstream features of ``key``, upstream first."""
        key = coerce_feature_key(key)
        return [k for k in self.topological_order([key]) if k != key]

    def downstream_of(self, keys: Any) -> list[FeatureKey]:
        """All transitive dependents of ``keys`` (a key or several), in topological order."""
        roots = {coerce_feature_key(k) for k in ([keys] if _is_single(keys) else keys)}
        for root in roots:
            self.spec(root)
        found: set[FeatureKey] = set()
        for key in self.topological_order():
            if any(p in roots or p in found for p in self._parents(key)):
                found.add(key)
        return [k for k in self.topological_order() if k in found]

    def validate(self) -> None:
        """Raise on missing dependencies, cycles or unknown field dependencies."""
        for key in self.topological_order():
            self.plan(key)

    # -- versions -----------------------------------------------------------------------------

    def plan(self, key: Any) -> FeaturePlan:
        """The resolved plan (field parents, static versions) of ``key``."""
        key = coerce_feature_key(key)
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        for k in self.topological_order([key]):
            if k not in self._plans:
                spec = self._specs[k]
                ups = {d.feature: self._specs[d.feature] for d in spec.deps}
                versions = {u: dict(self._plans[u].field_versions) for u in ups}
                self._plans[k] = build_plan(spec, ups, versions)
        return self._plans[key]

    def feature_version(self, key: Any) -> str:
        return self.plan(key).feature_version

    def field_versions(self, key: Any) -> dict[str, str]:
        return {f.to_string(): v for f, v in self.plan(key).field_versions.items()}

    def field_version(self, key: Any, field: str | FieldKey) -> str:
        return self.plan(key).field_versions[FieldKey.coerce(field)]

    def project_version(self) -> str:
        """A hash of every feature version in the graph: changes when any definition changes."""
        return sha256_hex("".join(k.to_string() + self.feature_version(k) for k in self.keys))

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able description of the graph, rebuildable without importing user code."""
        features = []
        for key in self.topological_order():
            cls = self._classes.get(key)
            features.append(
                {
                    "key": key.to_string(),
                    "spec": self._specs[key].model_dump(mode="json"),
                    "feature_version": self.feature_version(key),
                    "field_versions": self.field_versions(key),
                    "class_path": f"{cls.__module__}.{cls.__qualname__}" if cls else None,
                }
            )
        return {"format": SNAPSHOT_FORMAT, "project_version": self.project_version(), "features": features}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> FeatureGraph:
        """Rebuild a graph of specs from :meth:`snapshot` output (no user code is imported)."""
        graph = cls()
        for item in snapshot["features"]:
            graph.add_feature(FeatureSpec.model_validate(item["spec"]))
        return graph

    # -- display ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"FeatureGraph({len(self)} features)"

    def _repr_html_(self) -> str:
        from metaxy.models.render import graph_html

        return graph_html(self)


def _check_identity_dep(spec: FeatureSpec, upstream: FeatureSpec) -> None:
    """A plain (identity) dependency needs every upstream id column among the feature's sample keys.

    Otherwise each sample would match several upstream rows and resolve to duplicate ids.
    """
    expansion = [d.lineage.on for d in spec.deps if d.lineage.kind is LineageKind.EXPANSION]
    keys = list(expansion[0]) if expansion else list(spec.id_columns)
    for dep in spec.deps:
        if dep.feature != upstream.key or dep.lineage.kind is not LineageKind.IDENTITY:
            continue
        if dep.is_foreign_key:
            _check_foreign_key(spec, dep, upstream)
            continue
        rename = dep.rename_map
        extra = [rename.get(c, c) for c in upstream.id_columns if rename.get(c, c) not in keys]
        if extra:
            raise DefinitionError(
                f"Feature {spec.key.to_string()!r} depends on {upstream.key.to_string()!r} one-to-one, but "
                f"{upstream.key.to_string()!r} has id column(s) {extra} that {spec.key.to_string()!r} lacks "
                f"(its sample keys: {keys}): each sample would match several upstream rows.",
                hint=f"Declare lineage=LineageRelationship.aggregation(on={keys}) to combine them, or add "
                f"{extra} to {spec.key.to_string()!r}'s id_columns (one sample per upstream row).",
            )


def _check_foreign_key(spec: FeatureSpec, dep: FeatureDep, upstream: FeatureSpec) -> None:
    """A foreign key maps onto exactly the upstream's id columns (so it points at one row)."""
    targets = list(dep.on_map.values())
    if sorted(targets) != sorted(upstream.id_columns):
        raise DefinitionError(
            f"Feature {spec.key.to_string()!r}: on={dep.on_map} must map onto exactly the id columns "
            f"{list(upstream.id_columns)} of {upstream.key.to_string()!r}, not {targets}.",
            hint=f"Map one column of {spec.key.to_string()!r} to each of {list(upstream.id_columns)}.",
        )


def _same_definition(old: type[Any], new: type[Any]) -> bool:
    return bool(old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__)


def _is_single(value: Any) -> bool:
    return isinstance(value, str | FeatureKey) or callable(getattr(value, "spec", None))


#: the process-wide default graph: feature classes defined outside any ``use()`` block land here
DEFAULT_GRAPH = FeatureGraph()
_ACTIVE: contextvars.ContextVar[FeatureGraph] = contextvars.ContextVar(
    "metaxy_active_graph", default=DEFAULT_GRAPH
)


def _check_table_name(key: FeatureKey, known: dict[FeatureKey, Any]) -> None:
    """Refuse a key whose SQL table name (parts joined by ``__``, ``-`` as ``_``) another key has."""
    name = key.to_table_name()
    for other in known:
        if other != key and other.to_table_name() == name:
            raise InvalidKeyError(
                f"Feature keys {other.to_string()!r} and {key.to_string()!r} map to the same SQL table "
                f"name {name!r} (parts are joined with '__' and '-' becomes '_').",
                hint="Rename one of them: SQL stores could not keep their metadata apart.",
            )
