"""The API's one router, which each resource's module (runs, history, models, plugins, uploads, report) fills in.

One router rather than one per resource included into another: FastAPI keeps an included router as a
nested object, and the tests (and the token check) read ``router.routes`` as the flat list of endpoints.
"""

from fastapi import APIRouter

from llamaburn.api.errors import ApiRoute

router = APIRouter(prefix="/api", tags=["llamaburn"], route_class=ApiRoute)
