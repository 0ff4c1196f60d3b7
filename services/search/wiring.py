"""The search service, declared once: what it projects from which topics into which index and tables, and its API.
`python -m services.search`, `chirp projections rebuild search` and the tests start from here.

Each version of the projection has its own Cassandra keyspace (chirp_search, chirp_search_v2, ...) and its own
index (CHIRP_SEARCH_BACKEND: tantivy directory `<CHIRP_SEARCH_INDEX_DIR>/v<N>`, or an OpenSearch index). In one
process the projection and the API share the open index of a version (`open_backend`): tantivy allows one writer
per directory, so with tantivy the service runs as one process (role all).
"""

import asyncio

from chirp.search.v1 import search_service_pb2, search_service_pb2_grpc
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import now_ms
from services.runtime.config import Settings
from services.runtime.projection.spec import ProjectionSpec
from services.runtime.service import ApiSpec, Resources, ServiceSpec
from services.runtime.topics import GRAPH_EVENTS, POST_EVENTS
from services.search.api import ACCESS, SearchApi
from services.search.backends import SearchBackend, backend_for
from services.search.projection import SearchProjection
from services.search.repository import SearchRepository
from services.search.service import ProjectedFilters, SearchService

_open: dict[tuple[str, int], SearchBackend] = {}
_opening = asyncio.Lock()


def version_of(repository: SearchRepository) -> int:
    """The projection version a repository's keyspace belongs to (chirp_search: 1, chirp_search_v2: 2)."""
    if repository.keyspace == repository.base_keyspace:
        return 1
    return int(repository.keyspace.rsplit("_v", 1)[1])


async def open_backend(settings: Settings, version: int) -> SearchBackend:
    """This process's open index of `version`, opened on first use and shared by the projection and the API."""
    key = (settings.search_backend, version)
    async with _opening:
        if key not in _open:
            backend = backend_for(settings, version)
            await backend.open()
            _open[key] = backend
        return _open[key]


async def close_backends() -> None:
    while _open:
        _, backend = _open.popitem()
        await backend.close()


class _LazyProjection:
    """The projection over a version's backend, which is opened inside the running loop on the first batch."""

    def __init__(self, repo: SearchRepository, settings: Settings) -> None:
        self._repo = repo
        self._settings = settings
        self._projection: SearchProjection | None = None

    async def apply(self, records) -> None:
        if self._projection is None:
            backend = await open_backend(self._settings, version_of(self._repo))
            self._projection = SearchProjection(
                self._repo,
                backend,
                self._settings.topic(POST_EVENTS.name),
                self._settings.topic(GRAPH_EVENTS.name),
            )
        await self._projection.apply(records)


def _projection(repo: SearchRepository, session: CassandraSession, settings: Settings) -> _LazyProjection:
    return _LazyProjection(repo, settings)


PROJECTION = ProjectionSpec(
    service="search",
    topics=(POST_EVENTS, GRAPH_EVENTS),
    repository=SearchRepository,
    projection=_projection,
)


async def _api(resources: Resources) -> SearchApi:
    settings = resources.settings
    serving = resources.serving(PROJECTION)
    resources.on_close(close_backends)

    async def backend(repo: SearchRepository) -> SearchBackend:
        return await open_backend(settings, version_of(repo))

    service = SearchService(
        serving.get,
        backend,
        # The readers' own filters (mute words, filters v2), as the projection keeps them.
        ProjectedFilters(serving.get, now_ms),
        now_ms,
        int(settings.search_recency_half_life_hours * 3600 * 1000),
    )
    return SearchApi(service)


SERVICE = ServiceSpec(
    name="search",
    api=ApiSpec(
        service=search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
        address=lambda settings: settings.search_addr,
        add_to_server=search_service_pb2_grpc.add_SearchServiceServicer_to_server,
        build=_api,
        rules=ACCESS,
    ),
    projection=PROJECTION,
)
