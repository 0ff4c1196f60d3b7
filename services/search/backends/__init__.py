"""Search backends behind one interface (base.py), chosen by configuration:
CHIRP_SEARCH_BACKEND=tantivy (the default: an index on this machine's disk, under CHIRP_SEARCH_INDEX_DIR) or
opensearch (services/search/backends/opensearch_backend.py). Each version of the projection has its own index:
directory `<index_dir>/v<N>` for tantivy, index `<prefix>_search_v<N>` for OpenSearch."""

import importlib
import os

from services.runtime.config import Settings
from services.search.backends.base import (
    BackendStats,
    HashtagCount,
    PeopleSearch,
    PersonDocument,
    PersonHit,
    PostDocument,
    PostHit,
    PostHits,
    PostSearch,
    SearchBackend,
    Sort,
)

# name -> "module:factory"; a factory takes (settings, version) and returns an unopened SearchBackend.
BACKENDS = {
    "tantivy": "services.search.backends.tantivy_backend:TantivyBackend.for_version",
    "opensearch": "services.search.backends.opensearch_backend:OpenSearchBackend.for_version",
}


def backend_for(settings: Settings, version: int) -> SearchBackend:
    """The backend CHIRP_SEARCH_BACKEND names, for one version of the index (not opened yet)."""
    name = settings.search_backend
    if name not in BACKENDS:
        raise ValueError(f"CHIRP_SEARCH_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
    module_name, _, attribute = BACKENDS[name].partition(":")
    target = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target(settings, version)


def tantivy_dir(settings: Settings, version: int) -> str:
    return os.path.join(settings.search_index_dir, f"v{version}")


__all__ = [
    "BACKENDS",
    "BackendStats",
    "HashtagCount",
    "PeopleSearch",
    "PersonDocument",
    "PersonHit",
    "PostDocument",
    "PostHit",
    "PostHits",
    "PostSearch",
    "SearchBackend",
    "Sort",
    "backend_for",
    "tantivy_dir",
]
