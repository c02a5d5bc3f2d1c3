"""Rank features for a text query over keys, descriptions, fields and column names."""

from __future__ import annotations

from dataclasses import dataclass

from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey

#: how much a match in each place counts; the key itself matters most
WEIGHTS: dict[str, int] = {
    "key (exact)": 100,
    "key": 40,
    "field": 20,
    "column": 15,
    "description": 10,
}


@dataclass(frozen=True)
class SearchHit:
    """One matching feature, its score and where the query matched."""

    key: FeatureKey
    score: int
    matches: tuple[str, ...]


def search_features(graph: FeatureGraph, text: str) -> list[SearchHit]:
    """Features matching every word of ``text`` (case-insensitive), best first, then by key.

    A word matches a place when it is a substring of it; each place counts once per word.
    """
    words = text.lower().split()
    hits = []
    for key in graph.keys:
        places = _places(graph, key)
        score, matches = 0, []
        for word in words:
            found = [(kind, value) for kind, value in places if word in value.lower()]
            if not found:
                break
            for kind, value in found:
                score += WEIGHTS[kind]
                matches.append(f"{kind}: {value}")
        else:
            if words and text.lower().strip() == key.to_string():
                score += WEIGHTS["key (exact)"]
            if score:
                hits.append(SearchHit(key, score, tuple(dict.fromkeys(matches))))
    return sorted(hits, key=lambda h: (-h.score, h.key.to_string()))


def _places(graph: FeatureGraph, key: FeatureKey) -> list[tuple[str, str]]:
    spec = graph.spec(key)
    cls = graph.feature_class(key)
    places = [("key", key.to_string())]
    places += [("field", f.key.to_string()) for f in spec.fields]
    columns = [*spec.id_columns, *(cls.model_fields if cls is not None else [])]
    places += [("column", c) for c in dict.fromkeys(columns)]
    if spec.description:
        places.append(("description", spec.description))
    return places
