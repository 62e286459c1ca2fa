"""`/v2/info`, `/v2/leader`, `/ping`: facts about this server, in Marathon's shape."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from conveyor.api.context import context_of
from conveyor.api.responses import FastJSONResponse

router = APIRouter(include_in_schema=False)

MARATHON_VERSION = "1.8.0"
"""The Marathon release whose API Conveyor answers in."""


@router.get("/v2/info")
async def info(request: Request) -> FastJSONResponse:
    facts = context_of(request).info
    _host, _, port = facts.listen.rpartition(":")
    return FastJSONResponse(
        {
            "name": "marathon",
            "version": MARATHON_VERSION,
            "buildref": f"conveyor-{facts.version}",
            "elected": True,
            "leader": facts.listen,
            "frameworkId": "conveyor",
            "marathon_config": {
                "hostname": facts.hostname,
                "local_port_min": 10000,
                "local_port_max": 20000,
                "framework_name": "conveyor",
                "ha": False,
                "checkpoint": True,
                "features": [],
                "webui_url": f"http://{facts.listen}",
                "master": f"conveyor:{facts.engine}",
            },
            "zookeeper_config": {"zk_max_versions": 50},
            "http_config": {"http_port": int(port) if port.isdigit() else 0},
        }
    )


@router.get("/v2/leader")
async def leader(request: Request) -> FastJSONResponse:
    return FastJSONResponse({"leader": context_of(request).info.listen})


@router.get("/ping")
async def ping() -> PlainTextResponse:
    return PlainTextResponse("pong")
