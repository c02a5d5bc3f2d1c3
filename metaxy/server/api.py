"""The read-only HTTP API (FastAPI) and the web page, over one :class:`MetadataBrowser`.

Every route is a ``GET``: there is no way to write through the server. Errors are JSON documents
``{"error": {"type", "message", "hint"}, "status"}`` with a matching status code; the OpenAPI schema
is served at ``/api/openapi.json``. With an API key or the project's ``[security]`` principals
configured, every ``/api`` route asks for a key in ``X-API-Key`` (or ``Authorization: Bearer <key>``);
the page's own files are public and carry no data.
"""

from __future__ import annotations

import hmac
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

import metaxy
from metaxy.exceptions import (
    FeatureNotFoundError,
    MetaxyError,
    RequestError,
    SnapshotNotFoundError,
    StoreBackendError,
    UnknownFeatureError,
)
from metaxy.server import schemas
from metaxy.server.browse import CURRENT, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MetadataBrowser
from metaxy.stores.wrappers.auth import AuthBackend, Permission

#: the page's files, shipped in the package (no build step, nothing fetched from elsewhere)
STATIC = resources.files("metaxy.server") / "static"

_STATUS = [  # most specific first
    (UnknownFeatureError, 404),
    (FeatureNotFoundError, 404),
    (SnapshotNotFoundError, 404),
    (RequestError, 400),
    (StoreBackendError, 503),
    (MetaxyError, 400),
]


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Error, "description": "A request the store cannot answer (see the hint)."},
    401: {"model": schemas.Error, "description": "An API key is configured and the request lacks it."},
    403: {"model": schemas.Error, "description": "The key's principal may not read metadata."},
    404: {"model": schemas.Error, "description": "Unknown feature or snapshot, or nothing stored."},
    422: {"model": schemas.Error, "description": "Invalid parameters, e.g. a page larger than allowed."},
}


class APIKeyCheck:
    """Who may call the API: nobody is asked (no key, no backend), one key compared in constant time,
    or an :class:`~metaxy.stores.wrappers.auth.AuthBackend` (the project's ``[security]`` principals)
    whose principal must hold ``read``. 401 without a valid key, 403 for a principal who may not read.
    """

    def __init__(self, api_key: str | None = None, backend: AuthBackend | None = None) -> None:
        self._key = api_key.encode() if api_key else None
        self._backend = backend

    def __call__(self, request: Request) -> None:
        if self._key is None and self._backend is None:
            return
        given = request.headers.get("x-api-key") or _bearer(request.headers.get("authorization"))
        if given is None:
            raise HTTPException(401, detail="missing API key", headers={"WWW-Authenticate": "Bearer"})
        if self._backend is not None:
            principal = self._backend.verify(given)
            if principal is None:
                raise HTTPException(401, detail="wrong API key", headers={"WWW-Authenticate": "Bearer"})
            if not self._backend.permits(principal, Permission.READ, None):
                raise HTTPException(403, detail=f"principal {principal!r} may not read metadata")
        elif self._key is not None and not hmac.compare_digest(given.encode(), self._key):
            raise HTTPException(401, detail="wrong API key", headers={"WWW-Authenticate": "Bearer"})


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def create_app(
    browser: MetadataBrowser, *, api_key: str | None = None, auth_backend: AuthBackend | None = None
) -> FastAPI:
    """The API and page over ``browser`` (whose store stays open while the app serves).

    ``auth_backend`` (the project's ``[security]`` principals) takes precedence over ``api_key``.
    """
    app = FastAPI(
        title="metaxy",
        version=metaxy.__version__,
        description="Read-only views of feature metadata: features, graph, status, snapshots, samples.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs pages load their scripts from a CDN
        redoc_url=None,
    )
    _add_error_handlers(app)
    router = APIRouter(
        prefix="/api", dependencies=[Depends(APIKeyCheck(api_key, auth_backend))], responses=_ERRORS
    )
    _add_feature_routes(router, browser)
    _add_store_routes(router, browser)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    return app


def _add_feature_routes(router: APIRouter, browser: MetadataBrowser) -> None:
    @router.get("/features", response_model=schemas.FeaturePage, tags=["features"])
    def features(
        q: Annotated[str | None, Query(description="Words to search (all must match).")] = None,
        prefix: Annotated[str | None, Query(description="Only keys starting with this.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The project's features, upstream first (best match first with ``q``), a page at a time."""
        return browser.features(q, prefix=prefix, limit=limit, offset=offset)

    @router.get("/features/{key:path}", response_model=schemas.FeatureDetail, tags=["features"])
    def feature(key: str) -> dict[str, Any]:
        """One feature: fields, versions, dependencies both ways, schema, stats and status."""
        return browser.feature(key)

    @router.get("/graph", response_model=schemas.Graph, tags=["features"])
    def graph(
        feature: Annotated[str | None, Query(description="Only this feature and its neighbourhood.")] = None,
    ) -> dict[str, Any]:
        """Nodes and edges of the feature graph (feature and field level)."""
        return browser.graph_data(feature)

    @router.get("/graph/mermaid", response_model=schemas.Mermaid, tags=["features"])
    def mermaid() -> dict[str, Any]:
        """The feature graph as a Mermaid flowchart."""
        return {"mermaid": browser.mermaid()}


def _add_store_routes(router: APIRouter, browser: MetadataBrowser) -> None:
    @router.get("/status", response_model=schemas.Status, tags=["store"])
    def status(
        feature: Annotated[list[str] | None, Query(description="Only these features.")] = None,
    ) -> dict[str, Any]:
        """Per feature: samples stored, new, stale and orphaned, and a state."""
        return browser.status(feature)

    @router.get("/snapshots", response_model=schemas.Snapshots, tags=["store"])
    def snapshots() -> dict[str, Any]:
        """The graph snapshots pushed to the store, oldest first."""
        return browser.snapshots()

    @router.get("/diff", response_model=schemas.Diff, tags=["store"])
    def diff(
        old: Annotated[str | None, Query(description="Snapshot id (default: the latest pushed).")] = None,
        new: Annotated[str, Query(description=f"Snapshot id or {CURRENT!r}.")] = CURRENT,
    ) -> dict[str, Any]:
        """What changed between two graphs, and how many stored samples each change recomputes."""
        return browser.diff(old, new)

    @router.get("/lookup", response_model=schemas.Lookup, tags=["store"])
    def lookup(request: Request) -> dict[str, Any]:
        """One sample across every feature keyed by the given id columns: ``/api/lookup?sample_uid=42``."""
        return browser.lookup(dict(request.query_params))


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MetaxyError)
    async def metaxy_error(request: Request, exc: MetaxyError) -> JSONResponse:
        status = next(code for cls, code in _STATUS if isinstance(exc, cls))
        return error_response(status, type(exc).__name__, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        hint = f"See /api/openapi.json for the parameters; pages hold at most {MAX_PAGE_SIZE} items."
        return error_response(422, "RequestError", f"Invalid request: {problems}.", hint)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        hints = {
            401: "Send the key in the X-API-Key header (or Authorization: Bearer <key>).",
            403: "Ask an admin for a role granting read ([security.roles] in metaxy.toml).",
            404: "The routes are listed in /api/openapi.json.",
            405: "The API is read-only: every route is a GET.",
        }
        response = error_response(exc.status_code, "HTTPError", str(exc.detail), hints.get(exc.status_code))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        hint = "This is a bug in metaxy or a plugin; the server's log has the traceback."
        return error_response(500, "InternalError", f"Unexpected {type(exc).__name__}: {exc}", hint)


def error_response(status: int, kind: str, message: str, hint: str | None) -> JSONResponse:
    """``{"error": {"type", "message", "hint"}, "status"}`` with status code ``status``."""
    body = {"error": {"type": kind, "message": message, "hint": hint}, "status": status}
    return JSONResponse(body, status_code=status)
