"""The registry's REST API, and the client that speaks it."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from schemas import (
    CONTENT_TYPE,
    AvroCodec,
    CompatibilityLevel,
    CompatibilityNotConfiguredError,
    IncompatibleSchemaError,
    InvalidCompatibilityLevelError,
    InvalidSchemaError,
    InvalidVersionError,
    Registry,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SubjectNotFoundError,
    VersionNotFoundError,
    create_registry_app,
    topic_record_name_strategy,
)
from schemas.testing import example_events

pytestmark = pytest.mark.anyio


def record(*fields: dict[str, Any], name: str = "Thing") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t", "fields": list(fields)})


A = {"name": "a", "type": "string"}
V1 = record(A)
V2 = record(A, {"name": "b", "type": ["null", "long"], "default": None})
BREAKING = record(A, {"name": "b", "type": "long"})


@pytest.fixture
async def http(registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_registry_app(registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client


@pytest.fixture
async def client(registry: Registry) -> AsyncIterator[RegistryClient]:
    transport = httpx.ASGITransport(app=create_registry_app(registry))
    async with RegistryClient("http://registry", transport=transport) as client:
        yield client


def expect_error(response: httpx.Response, status: int, code: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    assert response.json() == {"error_code": code, "message": message}


async def post(http: httpx.AsyncClient, path: str, schema: str, **params: str) -> httpx.Response:
    return await http.post(
        path,
        json={"schema": schema},
        params=params,
        headers={"Content-Type": CONTENT_TYPE},
    )


async def test_register_and_read(http: httpx.AsyncClient) -> None:
    response = await post(http, "/subjects/things-value/versions", V1)
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    first = response.json()["id"]
    assert (await post(http, "/subjects/things-value/versions", V1)).json() == {"id": first}
    assert (await post(http, "/subjects/other-value/versions", V1)).json() == {"id": first}
    second = (await post(http, "/subjects/things-value/versions", V2)).json()["id"]
    assert second == first + 1

    assert (await http.get("/")).json() == {}
    assert (await http.get("/subjects")).json() == ["other-value", "things-value"]
    assert (await http.get("/subjects/things-value/versions")).json() == [1, 2]
    for version in ("latest", "-1", "2"):
        body = (await http.get(f"/subjects/things-value/versions/{version}")).json()
        assert body["subject"] == "things-value"
        assert (body["version"], body["id"]) == (2, second)
        assert json.loads(body["schema"]) == json.loads(V2)
    raw = await http.get("/subjects/things-value/versions/1/schema")
    assert raw.status_code == 200 and raw.json() == json.loads(V1)
    assert json.loads((await http.get(f"/schemas/ids/{first}")).json()["schema"]) == json.loads(V1)
    assert (await http.get("/schemas/types")).json() == ["AVRO"]

    found = await post(http, "/subjects/things-value", V1)
    assert found.status_code == 200
    assert (found.json()["version"], found.json()["id"]) == (1, first)


async def test_not_found_errors(http: httpx.AsyncClient) -> None:
    expect_error(await http.get("/subjects/nope/versions"), 404, 40401, "Subject 'nope' not found.")
    expect_error(
        await http.get("/subjects/nope/versions/latest"), 404, 40401, "Subject 'nope' not found."
    )
    expect_error(await post(http, "/subjects/nope", V1), 404, 40401, "Subject 'nope' not found.")
    await post(http, "/subjects/things-value/versions", V1)
    expect_error(
        await http.get("/subjects/things-value/versions/5"), 404, 40402, "Version 5 not found."
    )
    expect_error(await http.get("/schemas/ids/77"), 404, 40403, "Schema 77 not found")
    expect_error(await post(http, "/subjects/things-value", V2), 404, 40403, "Schema not found")
    expect_error(
        await http.get("/config/things-value"),
        404,
        40408,
        "Subject 'things-value' does not have subject-level compatibility configured",
    )
    expect_error(await http.get("/no/such/path"), 404, 404, "HTTP 404 Not Found")
    expect_error(await http.delete("/subjects"), 405, 405, "HTTP 405 Method Not Allowed")


async def test_invalid_requests(http: httpx.AsyncClient) -> None:
    invalid_version = (
        "The specified version '0' is not a valid version id. "
        'Allowed values are between [1, 2^31-1] and the string "latest"'
    )
    expect_error(await http.get("/subjects/x/versions/0"), 422, 42202, invalid_version)
    response = await post(http, "/subjects/x/versions", '{"type": "record"}')
    assert response.status_code == 422 and response.json()["error_code"] == 42201
    assert response.json()["message"].startswith("Invalid schema")
    for body in ({"schema": ""}, {"schema": V1, "schemaType": "PROTOBUF"}, {"nothing": 1}):
        response = await http.post("/subjects/x/versions", json=body)
        assert (response.status_code, response.json()["error_code"]) == (422, 42201)
    response = await http.put("/config", json={"compatibility": "SIDEWAYS"})
    expect_error(
        response,
        422,
        42203,
        "Invalid compatibility level. Valid values are none, backward, forward, full, "
        "backward_transitive, forward_transitive, and full_transitive",
    )
    response = await http.post("/subjects/x/versions", content=b"{oops")
    assert (response.status_code, response.json()["error_code"]) == (400, 400)
    response = await http.post("/subjects/x/versions", json=["a list"])
    assert (response.status_code, response.json()["error_code"]) == (400, 400)


async def test_incompatible_registration(http: httpx.AsyncClient) -> None:
    await post(http, "/subjects/things-value/versions", V1)
    response = await post(http, "/subjects/things-value/versions", BREAKING)
    assert response.status_code == 409
    body = response.json()
    assert body["error_code"] == 409
    assert body["message"].startswith(
        'Schema being registered is incompatible with an earlier schema for subject "things-value"'
    )
    assert "field 'b'" in body["message"]


async def test_compatibility_endpoints(http: httpx.AsyncClient) -> None:
    path = "/compatibility/subjects/things-value/versions"
    assert (await post(http, f"{path}/latest", V1)).json() == {"is_compatible": True}
    expect_error(await post(http, f"{path}/1", V1), 404, 40401, "Subject 'things-value' not found.")
    await post(http, "/subjects/things-value/versions", V1)
    assert (await post(http, f"{path}/latest", V2)).json() == {"is_compatible": True}
    assert (await post(http, f"{path}/latest", BREAKING)).json() == {"is_compatible": False}
    verbose = (await post(http, f"{path}/1", BREAKING, verbose="true")).json()
    assert verbose["is_compatible"] is False
    assert verbose["messages"] == [
        "BACKWARD (against version 1): field 'b': added without a default, "
        "so old data cannot fill it"
    ]
    every = (await post(http, path, BREAKING, verbose="true")).json()
    assert every["is_compatible"] is False and len(every["messages"]) == 1
    expect_error(await post(http, f"{path}/3", V1), 404, 40402, "Version 3 not found.")


async def test_config_endpoints(http: httpx.AsyncClient) -> None:
    assert (await http.get("/config")).json() == {"compatibilityLevel": "BACKWARD"}
    response = await http.put("/config", json={"compatibility": "full"})
    assert response.json() == {"compatibility": "FULL"}
    assert (await http.get("/config")).json() == {"compatibilityLevel": "FULL"}
    response = await http.put("/config/things-value", json={"compatibility": "NONE"})
    assert response.json() == {"compatibility": "NONE"}
    assert (await http.get("/config/things-value")).json() == {"compatibilityLevel": "NONE"}
    response = await http.get("/config/other-value", params={"defaultToGlobal": "true"})
    assert response.json() == {"compatibilityLevel": "FULL"}


async def test_client_covers_the_api(client: RegistryClient) -> None:
    first = await client.register("things-value", V1)
    assert await client.register("things-value", V1) == first
    second = await client.register("things-value", V2)
    assert await client.subjects() == ["things-value"]
    assert await client.versions("things-value") == [1, 2]
    latest = await client.get_version("things-value")
    assert (latest.subject, latest.version, latest.schema_id) == ("things-value", 2, second)
    assert (await client.get_version("things-value", 1)).schema_id == first
    assert json.loads(await client.schema_by_id(first)) == json.loads(V1)
    assert (await client.lookup("things-value", V2)).version == 2
    assert (await client.check_compatibility("things-value", V1)).is_compatible
    result = await client.check_compatibility("things-value", BREAKING, 1)
    assert not result.is_compatible and "field 'b'" in result.messages[0]
    assert not (await client.check_compatibility("things-value", BREAKING, None)).is_compatible
    assert await client.get_compatibility() is CompatibilityLevel.BACKWARD
    assert (
        await client.set_compatibility("forward_transitive")
        is CompatibilityLevel.FORWARD_TRANSITIVE
    )
    assert (
        await client.set_compatibility(CompatibilityLevel.NONE, "things-value")
        is CompatibilityLevel.NONE
    )
    assert await client.get_compatibility("things-value") is CompatibilityLevel.NONE
    assert (
        await client.get_compatibility("other", default_to_global=True)
        is CompatibilityLevel.FORWARD_TRANSITIVE
    )


async def test_client_translates_errors(client: RegistryClient) -> None:
    with pytest.raises(SubjectNotFoundError, match=r"Subject 'nope' not found\."):
        await client.versions("nope")
    await client.register("things-value", V1)
    with pytest.raises(VersionNotFoundError):
        await client.get_version("things-value", 4)
    with pytest.raises(InvalidVersionError):
        await client.get_version("things-value", 0)
    with pytest.raises(SchemaNotFoundError):
        await client.schema_by_id(404)
    with pytest.raises(SchemaNotFoundError):
        await client.lookup("things-value", V2)
    with pytest.raises(IncompatibleSchemaError, match="field 'b'"):
        await client.register("things-value", BREAKING)
    with pytest.raises(InvalidSchemaError):
        await client.register("things-value", "{")
    with pytest.raises(InvalidCompatibilityLevelError):
        await client.set_compatibility("sometimes")
    with pytest.raises(CompatibilityNotConfiguredError):
        await client.get_compatibility("things-value")


async def test_subjects_are_quoted_in_paths(client: RegistryClient) -> None:
    subject = "intake-caseyard.CaseSubmitted"
    schema_id = await client.register(subject, V1)
    assert (await client.get_version(subject)).schema_id == schema_id
    with pytest.raises(SubjectNotFoundError, match=r"Subject 'a b' not found\."):
        await client.versions("a b")


async def test_client_caches_schemas_by_id(registry: Registry) -> None:
    app = create_registry_app(registry)
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        inner = httpx.ASGITransport(app=app)
        return await inner.handle_async_request(request)

    schema_id = await registry.register("things-value", V1)
    transport = httpx.MockTransport(handler)
    async with RegistryClient("http://registry", transport=transport) as client:
        for _ in range(3):
            await client.schema_by_id(schema_id)
        for _ in range(3):
            await client.register("things-value", V2)
    assert seen == [f"GET /schemas/ids/{schema_id}", "POST /subjects/things-value/versions"]


async def test_transport_failures_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with RegistryClient("http://registry", transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(RegistryUnavailableError, match="ConnectError") as caught:
            await client.subjects()
    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (500, {"error_code": 50001, "message": "store down"}, RegistryUnavailableError, True),
        (503, None, RegistryUnavailableError, True),
        (409, {"error_code": 40901, "message": "incompatible"}, IncompatibleSchemaError, False),
        (418, {"message": "teapot"}, RegistryError, False),
        (200, None, RegistryError, False),
        (200, {"unexpected": True}, RegistryError, False),
    ],
)
async def test_odd_answers_become_typed_errors(
    status: int, body: object, error: type[RegistryError], retryable: bool
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, content=b"<html>nope</html>")
        return httpx.Response(status, json=body)

    async with RegistryClient("http://registry", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(error) as caught:
            await client.register("s", V1)
    assert type(caught.value) is error
    assert caught.value.retryable is retryable


async def test_client_must_be_opened() -> None:
    client = RegistryClient("http://registry")
    with pytest.raises(RuntimeError, match="async with"):
        await client.subjects()


async def test_codec_over_the_client_and_over_real_http(registry: Registry) -> None:
    app = create_registry_app(registry)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", http="h11", ws="none")
    server = uvicorn.Server(config)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            url = f"http://127.0.0.1:{port}"
            async with RegistryClient(url, timeout=5) as one, RegistryClient(url) as other:
                await eventually(one.subjects)
                producer = AvroCodec(one, subject_name_strategy=topic_record_name_strategy)
                consumer = AvroCodec(other, subject_name_strategy=topic_record_name_strategy)
                for event in example_events():
                    assert await consumer.decode(await producer.encode(event, "e2e")) == event
                assert len(await other.subjects()) == len(example_events())
            server.should_exit = True
    assert server.started


async def eventually(probe: Any, timeout: float = 10.0) -> None:
    """Poll ``probe`` until it stops raising RegistryUnavailableError."""
    with anyio.fail_after(timeout):
        while True:
            try:
                await probe()
                return
            except RegistryUnavailableError:
                await anyio.sleep(0.01)
