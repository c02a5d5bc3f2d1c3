"""``Feature``: the base class users subclass to declare a feature and its user columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeAlias

from pydantic import BaseModel, ConfigDict
from pydantic._internal._model_construction import ModelMetaclass

from metaxy.exceptions import DefinitionError
from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.spec import FeatureSpec


class FeatureMeta(ModelMetaclass):
    """Pydantic's metaclass plus a notebook rendering of feature *classes*.

    IPython looks ``_repr_html_`` up on the displayed object; for a class that is its metaclass.
    """

    def _repr_html_(cls) -> str:
        from metaxy.models.render import feature_class_html

        if getattr(cls, "_metaxy_spec", None) is None:  # the base class or an intermediate base
            return f"<code>{cls.__qualname__}</code> (not a feature: no spec)"
        return feature_class_html(cls)


class Feature(BaseModel, metaclass=FeatureMeta):
    """Base class of every feature. Pydantic fields declared on a subclass are its user columns.

    Example:
        >>> import metaxy as mx
        >>> with mx.FeatureGraph().use():
        ...     class Video(mx.Feature, spec=mx.FeatureSpec(key="video/raw", fields=[mx.FieldSpec(key="audio")])):
        ...         path: str
        ...     Video.table_name()
        'video__raw'
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    _metaxy_spec: ClassVar[FeatureSpec | None] = None
    _metaxy_graph: ClassVar[FeatureGraph | None] = None

    def __init_subclass__(cls, *, spec: FeatureSpec | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, *, spec: FeatureSpec | None = None, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if spec is None:  # an intermediate base class, not a feature
            cls._metaxy_spec = None
            return
        if not isinstance(spec, FeatureSpec):
            raise DefinitionError(
                f"Feature class {cls.__qualname__} got spec={spec!r}.",
                hint="Pass spec=mx.FeatureSpec(key=..., ...).",
            )
        cls._metaxy_spec = spec
        graph = FeatureGraph.get_active()
        graph.add_feature(cls)
        cls._metaxy_graph = graph

    # -- definition -----------------------------------------------------------------------------

    @classmethod
    def spec(cls) -> FeatureSpec:
        if cls._metaxy_spec is None:
            raise DefinitionError(
                f"{cls.__qualname__} is not a feature: it was defined without spec=.",
                hint="Declare it as `class X(mx.Feature, spec=mx.FeatureSpec(key=...))`.",
            )
        return cls._metaxy_spec

    @classmethod
    def key(cls) -> FeatureKey:
        return cls.spec().key

    @classmethod
    def graph(cls) -> FeatureGraph:
        cls.spec()
        assert cls._metaxy_graph is not None
        return cls._metaxy_graph

    @classmethod
    def table_name(cls) -> str:
        return cls.key().to_table_name()

    @classmethod
    def user_columns(cls) -> list[str]:
        return list(cls.model_fields)

    # -- versions -------------------------------------------------------------------------------

    @classmethod
    def feature_version(cls) -> str:
        """The static version of the whole definition (changes when any field version changes)."""
        return cls.graph().feature_version(cls.key())

    @classmethod
    def field_versions(cls) -> dict[str, str]:
        """The static version of each field, keyed by field key string."""
        return cls.graph().field_versions(cls.key())

    @classmethod
    def provenance_by_field(cls) -> dict[str, str]:
        """Alias of :meth:`field_versions` (the static, definition-level provenance)."""
        return cls.field_versions()

    # -- neighbours -----------------------------------------------------------------------------

    @classmethod
    def upstream(cls) -> list[FeatureKey]:
        """Direct upstream feature keys."""
        return [d.feature for d in cls.spec().deps]

    @classmethod
    def downstream(cls) -> list[FeatureKey]:
        """Features depending on this one, directly or transitively."""
        return cls.graph().downstream_of(cls.key())


BaseFeature = Feature


#: What the store API accepts as a feature: its class, its key, or the key's string/list form.
FeatureLike: TypeAlias = "type[Feature] | FeatureKey | str | Sequence[str]"


def resolve_feature(feature: FeatureLike) -> tuple[FeatureKey, FeatureGraph]:
    """The key of ``feature`` and the graph defining it: a class's own graph, else the active one.

    Raises:
        UnknownFeatureError: a key the active graph does not define.
    """
    graph_of, spec_of = getattr(feature, "graph", None), getattr(feature, "spec", None)
    if callable(graph_of) and callable(spec_of):  # a feature class: its own graph
        return spec_of().key, graph_of()
    graph = FeatureGraph.get_active()
    key = coerce_feature_key(feature)
    graph.spec(key)
    return key, graph
