"""A Starlette app for the ASGI tests (imported by the tests and served by
uvicorn in one of them): routes with parameters, a mount, a failing route,
and a view that waits so that concurrent requests interleave on one thread."""

import asyncio

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

import firebreak
import firebreak.asgi

registry = firebreak.Registry()


async def get_order(request):
    await asyncio.sleep(0.01)  # the other requests run meanwhile
    firebreak.log.info("order_read", order_id=request.path_params["order_id"],
                       seen=firebreak.current_log_context().get("request_id", ""))
    return JSONResponse({"id": request.path_params["order_id"]})


async def get_item(request):
    return PlainTextResponse("item")


async def boom(request):
    raise RuntimeError("boom")


async def metrics(request):
    body, content_type = registry.expose()
    return Response(body, media_type=content_type)


inner = Starlette(routes=[
    Route("/orders/{order_id}", get_order),
    Mount("/api", routes=[Route("/items/{item_id}", get_item)]),
    Route("/boom", boom),
    Route("/metrics", metrics),
])
app = firebreak.asgi.Middleware(inner, registry)
