"""The `billing-commands` subscription (internal route, not under `/billing`)."""

import json
import logging
from typing import Any

from dapr.ext.fastapi import DaprApp
from dapr_helpers.pubsub import handle_cloud_event
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from billing_app.api.deps import Commands
from billing_app.api.routes import router as public
from billing_app.config import Settings
from billing_app.messages import parse_command

log = logging.getLogger(__name__)


def subscribe_commands(app: FastAPI, settings: Settings) -> None:
    topic = settings.commands_topic

    @DaprApp(app).subscribe(pubsub=settings.pubsub_name, topic=topic, dead_letter_topic=f"{topic}-dead")
    async def on_command(request: Request, commands: Commands) -> dict[str, Any]:
        try:
            envelope = json.loads(await request.body())
        except ValueError:
            envelope = None  # not JSON: dropped below as malformed
        reply = await handle_cloud_event(envelope, parse_command, commands.handle, log)
        return reply.model_dump()

    for route in app.routes:  # the sidecar's routes stay out of the public API document
        if isinstance(route, APIRoute) and not route.path.startswith(public.prefix):
            route.include_in_schema = False
