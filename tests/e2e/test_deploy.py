"""Deployment files checked by the real tools: docker-compose.yml by `docker compose
config` (or Debian's docker-compose), the AsyncAPI document by the AsyncAPI 3.0 JSON Schema
from the npm registry (@asyncapi/specs), and every compose service's command by caseyard."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agents.spec import find_agent
from caseyard.settings import Settings
from tests.e2e.test_cli_user import caseyard

ROOT = Path(__file__).resolve().parents[2]
SPECS_VERSION = "6.11.1"
SPECS_CACHE = ROOT / ".cache" / "npm" / f"asyncapi-specs-{SPECS_VERSION}.tgz"
SERVICES = {"coordinator", "registry", "inbox"}


def need(tool: str) -> None:
    """Skip without `tool`; under `make test` (CASEYARD_REQUIRE_TOOLS=1) fail instead."""
    if os.environ.get("CASEYARD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{tool} is required (scripts/test-tools installs it)")
    pytest.skip(f"{tool} is not installed")


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    need("docker compose")
    raise AssertionError("unreachable")


def compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "-f", str(path), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_validates() -> None:
    result = compose_config(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stderr


def test_compose_validation_rejects_a_broken_file(tmp_path: Path) -> None:
    # The check above can fail: an unknown service key is refused.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  kafka:\n    image: apache/kafka\n    commandd: [x]\n")
    assert compose_config(broken).returncode != 0


def caseyard_services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "caseyard:dev"
    }


def test_every_compose_service_runs_a_real_caseyard_service() -> None:
    services = caseyard_services()
    assert {"coordinator", "classifier", "extractor", "scorer", "responder", "inbox"} <= set(
        services
    )
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "run", name
        if command[1] not in SERVICES:
            assert find_agent(command[1]).name == command[1]
        result = caseyard(*command, "--help", cwd=ROOT)
        assert result.returncode == 0, result.stderr


def test_compose_environment_is_valid_settings() -> None:
    # pydantic-settings ignores unknown CASEYARD_* variables: name each one here.
    for name, service in caseyard_services().items():
        env: dict[str, str] = service["environment"]
        fields = {key.removeprefix("CASEYARD_").lower(): value for key, value in env.items()}
        unknown = set(fields) - set(Settings.model_fields)
        assert not unknown, f"{name}: no setting {sorted(unknown)}"
        Settings(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def asyncapi_schema() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 JSON Schema, fetched once from the npm registry and cached."""
    if not SPECS_CACHE.exists():
        npm = shutil.which("npm")
        if npm is None:
            need("npm")
        SPECS_CACHE.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(npm), "pack", f"@asyncapi/specs@{SPECS_VERSION}", "--silent"],
            cwd=SPECS_CACHE.parent,
            check=True,
            capture_output=True,
            timeout=120,
        )
    with tarfile.open(SPECS_CACHE) as archive:
        member = archive.extractfile("package/schemas/3.0.0.json")
        assert member is not None
        schema: dict[str, Any] = json.load(member)
    return schema


def test_asyncapi_document_is_valid_asyncapi_3(
    asyncapi_schema: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "asyncapi.json"
    result = caseyard("topics", "asyncapi", "--format", "json", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    validator = jsonschema.Draft7Validator(asyncapi_schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors[:5]
    assert {c["address"] for c in document["channels"].values()} >= {
        "caseyard.intake",
        "caseyard.case-events",
        "caseyard.tasks.classify",
    }
    # Every reference points at something in the document, and the schema check can fail.
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/')[1:]}:
        node: Any = document
        for key in ref.split("/"):
            node = node[key]
    broken = {**document, "operations": {"x": {"action": "publish"}}}
    assert list(validator.iter_errors(broken))


def test_asyncapi_yaml_on_stdout(tmp_path: Path) -> None:
    result = caseyard("topics", "asyncapi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["asyncapi"] == "3.0.0"


def test_asyncapi_unwritable_output_is_one_line(tmp_path: Path) -> None:
    result = caseyard("topics", "asyncapi", "-o", str(tmp_path / "no" / "dir.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot write" in result.stderr


def test_the_grafana_dashboard_and_prometheus_name_what_caseyard_exports() -> None:
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "caseyard.json").read_text()
    )
    exported = set(
        re.findall(r'"(caseyard_[a-z_]+)"', (ROOT / "caseyard" / "metrics.py").read_text())
    )
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"caseyard_[a-z_]+", target["expr"]):
                base = re.sub(r"_(total|bucket|sum|count)$", "", name)
                assert base in exported, f"{panel['title']}: {name} is not a caseyard metric"
    scraped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        t.split(":")[0] for t in scraped["scrape_configs"][0]["static_configs"][0]["targets"]
    }
    assert targets == set(caseyard_services()) - {"registry"}
