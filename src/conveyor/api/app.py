"""The HTTP application: Marathon's `/v2`, the native `/api` (apps' logs, pipelines, builds),
`/hooks/git`, `/metrics`, `/ping`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.admission import Admission, AdmissionPolicy
from conveyor.api.context import Context
from conveyor.api.errors import (
    conveyor_error_response,
    http_error_response,
    request_validation_response,
)
from conveyor.api.hooks import router as hooks_router
from conveyor.api.marathon import apps, deployments, events, groups, info, queue, tasks
from conveyor.api.metrics import Metrics
from conveyor.api.middleware import CollapseSlashes, RequestMetrics
from conveyor.api.native import router as native_router
from conveyor.api.pipelines import router as pipelines_router
from conveyor.api.step_output import router as step_output_router
from conveyor.domain.errors import ConveyorError


def build_api(context: Context, admission: AdmissionPolicy | None = None) -> FastAPI:
    api = FastAPI(
        title="Conveyor",
        version=context.info.version,
        description="Conveyor's native API. Marathon's `/v2` API is served too (see docs/).",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    api.state.context = context
    metrics = Metrics(context.store)
    api.add_exception_handler(ConveyorError, conveyor_error_response)
    api.add_exception_handler(RequestValidationError, request_validation_response)
    api.add_exception_handler(StarletteHTTPException, http_error_response)
    for module in (tasks, deployments, queue, groups, info, events, apps):
        api.include_router(module.router)
    api.include_router(native_router)
    api.include_router(pipelines_router)
    api.include_router(step_output_router)
    api.include_router(hooks_router)

    @api.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        return metrics.response(request)

    api.add_middleware(Admission, policy=admission or AdmissionPolicy())
    api.add_middleware(RequestMetrics, metrics=metrics)
    api.add_middleware(CollapseSlashes)
    return api
