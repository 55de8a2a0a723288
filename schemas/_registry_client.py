"""An async client for the Confluent Schema Registry REST API (ours or Confluent's).

httpx errors never leave this module: an unreachable registry, a timeout or a 5xx is a
retryable ``RegistryUnavailableError``; an error body becomes the ``RegistryError`` its
``error_code`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from schemas._compat import CompatibilityLevel
from schemas._registry import CompatibilityResult, RegisteredSchema, Version
from schemas._registry_app import CONTENT_TYPE
from schemas.errors import REGISTRY_ERRORS_BY_CODE, RegistryError, RegistryUnavailableError


def _path(*parts: str | int) -> str:
    return "/" + "/".join(quote(str(part), safe="") for part in parts)


class RegistryClient:
    """A schema registry over HTTP; an async context manager.

    Schemas by id are cached (ids are immutable), and so are ids of schemas this client
    registered, so a codec on top of it does no HTTP once warm.

    Args:
        url: Base URL, e.g. ``http://localhost:8081``.
        timeout: Seconds per request.
        transport: An httpx transport, e.g. ``httpx.ASGITransport(app)`` in tests.
        headers: Extra headers for every request (authentication, for example).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._transport = transport
        self._headers = {"Accept": CONTENT_TYPE, **(headers or {})}
        self._http: httpx.AsyncClient | None = None
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(
            base_url=self._url,
            timeout=self._timeout,
            transport=self._transport,
            headers=self._headers,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        if self._http is None:
            raise RuntimeError("RegistryClient is not open: use 'async with RegistryClient(...)'")
        try:
            response = await self._http.request(
                method,
                path,
                json=body,
                params=params,
                headers={"Content-Type": CONTENT_TYPE} if body is not None else None,
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(
                f"schema registry at {self._url} did not answer {method} {path}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        except httpx.InvalidURL as exc:
            raise RegistryError(f"invalid schema registry URL {self._url!r}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success:
            if payload is None:
                raise RegistryError(
                    f"schema registry answered {method} {path} with a body that is not JSON"
                )
            return payload
        raise _error(response.status_code, payload, f"{method} {path}")

    async def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` and return its global id.

        Raises:
            IncompatibleSchemaError: If it breaks the subject's compatibility level.
            InvalidSchemaError: If it is not valid Avro.
            RegistryUnavailableError: If the registry cannot be reached.
        """
        cached = self._ids.get((subject, schema))
        if cached is not None:
            return cached
        body = await self._request(
            "POST", _path("subjects", subject, "versions"), body={"schema": schema}
        )
        schema_id = _int(body, "id")
        self._ids[(subject, schema)] = schema_id
        self._schemas.setdefault(schema_id, schema)
        return schema_id

    async def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """Return how ``schema`` is registered under ``subject``, without registering.

        Raises:
            SubjectNotFoundError: If the subject has no schemas.
            SchemaNotFoundError: If the schema is not registered under it.
        """
        body = await self._request("POST", _path("subjects", subject), body={"schema": schema})
        return _registered(body)

    async def schema_by_id(self, schema_id: int) -> str:
        """Return the schema text with this global id (cached).

        Raises:
            SchemaNotFoundError: If no schema has this id.
        """
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        body = await self._request("GET", _path("schemas", "ids", schema_id))
        schema = _str(body, "schema")
        self._schemas[schema_id] = schema
        return schema

    async def subjects(self) -> list[str]:
        """Return all subjects."""
        body = await self._request("GET", "/subjects")
        if not isinstance(body, list) or not all(isinstance(s, str) for s in body):
            raise RegistryError("schema registry answered /subjects with something unexpected")
        return body

    async def versions(self, subject: str) -> list[int]:
        """Return the versions of ``subject``.

        Raises:
            SubjectNotFoundError: If the subject has no schemas.
        """
        body = await self._request("GET", _path("subjects", subject, "versions"))
        if not isinstance(body, list) or not all(isinstance(v, int) for v in body):
            raise RegistryError("schema registry answered versions with something unexpected")
        return body

    async def get_version(self, subject: str, version: Version = "latest") -> RegisteredSchema:
        """Return one version of ``subject``.

        Raises:
            SubjectNotFoundError: If the subject has no schemas.
            VersionNotFoundError: If it has no such version.
            InvalidVersionError: If ``version`` is not a valid version.
        """
        body = await self._request("GET", _path("subjects", subject, "versions", version))
        return _registered(body)

    async def check_compatibility(
        self, subject: str, schema: str, version: Version | None = "latest"
    ) -> CompatibilityResult:
        """Check ``schema`` against one version of ``subject``, or all versions for None.

        Raises:
            InvalidSchemaError: If ``schema`` is not valid Avro.
            SubjectNotFoundError: If a specific version is asked of an unknown subject.
            VersionNotFoundError: If the subject has no such version.
        """
        parts: tuple[str | int, ...] = ("compatibility", "subjects", subject, "versions")
        if version is not None:
            parts = (*parts, version)
        body = await self._request(
            "POST", _path(*parts), body={"schema": schema}, params={"verbose": "true"}
        )
        if not isinstance(body, dict) or not isinstance(body.get("is_compatible"), bool):
            raise RegistryError("schema registry answered a compatibility check unexpectedly")
        messages = body.get("messages") or []
        return CompatibilityResult(body["is_compatible"], tuple(str(m) for m in messages))

    async def get_compatibility(
        self, subject: str | None = None, *, default_to_global: bool = False
    ) -> CompatibilityLevel:
        """Return the level of ``subject``, or the global level for None.

        Raises:
            CompatibilityNotConfiguredError: If the subject has no level of its own and
                ``default_to_global`` is false.
        """
        path = "/config" if subject is None else _path("config", subject)
        params = {"defaultToGlobal": "true"} if default_to_global else None
        body = await self._request("GET", path, params=params)
        return CompatibilityLevel.parse(_str(body, "compatibilityLevel"))

    async def set_compatibility(
        self, level: CompatibilityLevel | str, subject: str | None = None
    ) -> CompatibilityLevel:
        """Set the level of ``subject``, or the global level for None, and return it.

        Raises:
            InvalidCompatibilityLevelError: If ``level`` names no level.
        """
        path = "/config" if subject is None else _path("config", subject)
        body = await self._request("PUT", path, body={"compatibility": str(level)})
        return CompatibilityLevel.parse(_str(body, "compatibility"))


def _error(status: int, payload: object, what: str) -> RegistryError:
    code = payload.get("error_code") if isinstance(payload, dict) else None
    message = payload.get("message") if isinstance(payload, dict) else None
    text = message if isinstance(message, str) else f"HTTP {status}"
    error_class = REGISTRY_ERRORS_BY_CODE.get(code) if isinstance(code, int) else None
    if error_class is not None:
        return error_class(text)
    if status >= 500:
        return RegistryUnavailableError(f"schema registry failed {what}: {status} {text}")
    return RegistryError(f"schema registry refused {what}: {status} {text}")


def _int(body: object, key: str) -> int:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, int):
        raise RegistryError(f"schema registry response has no integer {key!r}")
    return value


def _str(body: object, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise RegistryError(f"schema registry response has no string {key!r}")
    return value


def _registered(body: object) -> RegisteredSchema:
    subject = _str(body, "subject")
    return RegisteredSchema(subject, _int(body, "version"), _int(body, "id"), _str(body, "schema"))
