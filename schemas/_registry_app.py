"""The built-in registry's REST API: Confluent's paths, bodies, status and error codes.

A thin layer over ``Registry``: parse the request, call the registry, render the answer.
Errors are ``RegistryError`` subclasses, rendered as Confluent renders them, e.g.
``404 {"error_code": 40401, "message": "Subject 'x' not found."}``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas._registry import RegisteredSchema, Registry, Version, parse_version
from schemas.errors import InvalidSchemaError, RegistryError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class _RegistryResponse(JSONResponse):
    media_type = CONTENT_TYPE


def _error(status: int, code: int, message: str) -> Response:
    return _RegistryResponse({"error_code": code, "message": message}, status_code=status)


def _registered(record: RegisteredSchema) -> dict[str, Any]:
    return {
        "subject": record.subject,
        "version": record.version,
        "id": record.schema_id,
        "schema": record.schema,
    }


class _BadRequestError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise _BadRequestError(f"Invalid JSON request body: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadRequestError("The request body must be a JSON object")
    return body


async def _schema_from(request: Request) -> str:
    body = await _body(request)
    schema_type = body.get("schemaType", "AVRO")
    if schema_type != "AVRO":
        raise InvalidSchemaError(f"Invalid schema: schemaType {schema_type!r} is not supported")
    if body.get("references"):
        raise InvalidSchemaError("Invalid schema: schema references are not supported")
    schema = body.get("schema")
    if not isinstance(schema, str) or not schema.strip():
        raise InvalidSchemaError("Invalid schema: the request has no schema")
    return schema


def _version(request: Request) -> Version:
    return parse_version(str(request.path_params["version"]))


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def create_registry_app(registry: Registry) -> Starlette:
    """Return an ASGI app serving ``registry`` over Confluent's REST API.

    Endpoints: ``/subjects``, ``/subjects/{s}`` (lookup), ``/subjects/{s}/versions``
    (list, register), ``/subjects/{s}/versions/{v}[/schema]``, ``/schemas/ids/{id}``,
    ``/schemas/types``, ``/compatibility/subjects/{s}/versions[/{v}]``, ``/config`` and
    ``/config/{s}`` (GET and PUT).
    """

    async def root(request: Request) -> Response:
        return _RegistryResponse({})

    async def subjects(request: Request) -> Response:
        return _RegistryResponse(await registry.subjects())

    async def versions(request: Request) -> Response:
        return _RegistryResponse(await registry.versions(request.path_params["subject"]))

    async def register(request: Request) -> Response:
        subject = request.path_params["subject"]
        schema_id = await registry.register(subject, await _schema_from(request))
        return _RegistryResponse({"id": schema_id})

    async def lookup(request: Request) -> Response:
        subject = request.path_params["subject"]
        return _RegistryResponse(
            _registered(await registry.lookup(subject, await _schema_from(request)))
        )

    async def get_version(request: Request) -> Response:
        record = await registry.get_version(request.path_params["subject"], _version(request))
        return _RegistryResponse(_registered(record))

    async def get_version_schema(request: Request) -> Response:
        record = await registry.get_version(request.path_params["subject"], _version(request))
        return Response(record.schema, media_type=CONTENT_TYPE)

    async def schema_by_id(request: Request) -> Response:
        return _RegistryResponse(
            {"schema": await registry.schema_by_id(request.path_params["schema_id"])}
        )

    async def schema_types(request: Request) -> Response:
        return _RegistryResponse(["AVRO"])

    async def compatibility(request: Request) -> Response:
        version = _version(request) if "version" in request.path_params else None
        result = await registry.check_compatibility(
            request.path_params["subject"], await _schema_from(request), version
        )
        body: dict[str, Any] = {"is_compatible": result.is_compatible}
        if _flag(request, "verbose"):
            body["messages"] = list(result.messages)
        return _RegistryResponse(body)

    async def get_config(request: Request) -> Response:
        level = await registry.get_compatibility(
            request.path_params.get("subject"),
            default_to_global=_flag(request, "defaultToGlobal"),
        )
        return _RegistryResponse({"compatibilityLevel": level.value})

    async def put_config(request: Request) -> Response:
        body = await _body(request)
        level = await registry.set_compatibility(
            body.get("compatibility", ""), request.path_params.get("subject")
        )
        return _RegistryResponse({"compatibility": level.value})

    async def registry_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RegistryError):  # pragma: no cover - registered for it only
            raise exc
        return _error(exc.http_status, exc.error_code, exc.message)

    async def bad_request(request: Request, exc: Exception) -> Response:
        return _error(400, 400, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "Internal Server Error"
        return _error(status, status, f"HTTP {status} {detail}")

    routes = [
        Route("/", root, methods=["GET"]),
        Route("/subjects", subjects, methods=["GET"]),
        Route("/subjects/{subject}", lookup, methods=["POST"]),
        Route("/subjects/{subject}/versions", versions, methods=["GET"]),
        Route("/subjects/{subject}/versions", register, methods=["POST"]),
        Route("/subjects/{subject}/versions/{version}", get_version, methods=["GET"]),
        Route("/subjects/{subject}/versions/{version}/schema", get_version_schema, methods=["GET"]),
        Route("/schemas/ids/{schema_id:int}", schema_by_id, methods=["GET"]),
        Route("/schemas/types", schema_types, methods=["GET"]),
        Route("/compatibility/subjects/{subject}/versions", compatibility, methods=["POST"]),
        Route(
            "/compatibility/subjects/{subject}/versions/{version}",
            compatibility,
            methods=["POST"],
        ),
        Route("/config", get_config, methods=["GET"]),
        Route("/config", put_config, methods=["PUT"]),
        Route("/config/{subject}", get_config, methods=["GET"]),
        Route("/config/{subject}", put_config, methods=["PUT"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            RegistryError: registry_error,
            _BadRequestError: bad_request,
            HTTPException: http_error,
        },
    )
