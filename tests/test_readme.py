"""The README is a short guide whose commands are the ones CI runs, and the
documents it links to exist."""

from __future__ import annotations

import configparser
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import keras_profiler

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 220
# The guides whose relative links must lead somewhere.
DOCUMENTS = [
    README,
    ROOT / "CONTRIBUTING.md",
    ROOT / "bench" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
# [text](target) outside code; a target with a scheme or a bare anchor is not a file.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|#)")


def relative_links(markdown: str) -> list[str]:
    """Targets of the markdown links outside code, anchors removed."""
    return [target.split("#", 1)[0] for target in _relative_targets(markdown)]


def _relative_targets(markdown: str) -> list[str]:
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return [t for t in LINK.findall(prose) if not EXTERNAL.match(t)]


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", prose, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert "pytest" in ci
    assert ci in README.read_text()


def test_the_install_script_makes_the_environment_ci_promises():
    script = (ROOT / "install.sh").read_text()
    assert os.access(ROOT / "install.sh", os.X_OK)
    assert "-m venv .venv" in script
    assert '-c constraints.txt -e ".[all,test]"' in script
    assert "--no-deps --force-reinstall keras-nightly==3.16.0.dev2026102704" in script
    assert "./install.sh" in (ROOT / ".ci" / "run").read_text().splitlines()[-1]


def test_the_readme_quick_start_runs_the_quick_sweep():
    text = README.read_text()
    assert "\n./install.sh && .venv/bin/python -m keras_profiler sweep --quick\n" in text


def test_the_readme_is_a_short_guide():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_the_link_finder_sees_relative_links_only():
    text = "[a](docs/x.md#part) [b](https://x.org) [c](#here) `[d](no.md)`\n```\n[e](no.md)\n```"
    assert relative_links(text) == ["docs/x.md"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file(document):
    assert document.is_file()
    missing = [
        target
        for target in relative_links(document.read_text())
        if target and not (document.parent / target).exists()
    ]
    assert missing == [], f"{document.relative_to(ROOT)} links to missing {missing}"


def test_anchors_are_github_heading_slugs():
    assert heading_anchors("# Top\n## Add a backend\n```\n# not a heading\n```\n") == {
        "top",
        "add-a-backend",
    }


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_anchor_leads_to_a_heading(document):
    missing = []
    for target in _relative_targets(document.read_text()):
        path, _, anchor = target.partition("#")
        linked = (document.parent / path) if path else document
        is_page = linked.suffix == ".md" and linked.is_file()
        if anchor and is_page and anchor not in heading_anchors(linked.read_text()):
            missing.append(target)
    assert missing == [], f"{document.relative_to(ROOT)} links to missing headings {missing}"


def named_source_files(markdown: str) -> list[str]:
    """Repository paths of Python files named in backticks, placeholders left out."""
    named = re.findall(r"`((?:keras_profiler|models|datasets|tests|bench)/[\w/.]+\.py)`", markdown)
    return sorted(set(named))


def test_the_source_file_finder_skips_placeholders():
    text = "`keras_profiler/cli.py` `models/<name>.py` `bench/a.py --x` `tests/b.py`"
    assert named_source_files(text) == ["keras_profiler/cli.py", "tests/b.py"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_source_file_a_document_names_exists(document):
    missing = [p for p in named_source_files(document.read_text()) if not (ROOT / p).is_file()]
    assert missing == [], f"{document.relative_to(ROOT)} names missing files {missing}"


def test_the_docs_folder_has_its_pages():
    names = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {"README.md", "usage.md", "backends.md", "mxnet.md", "sweeps.md"} <= names
    assert {"reports.md", "measurement.md", "how-a-run-works.md"} <= names


def test_the_license_is_apache_2_as_setup_cfg_says():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    metadata = configparser.ConfigParser()
    metadata.read(ROOT / "setup.cfg")
    assert metadata["metadata"]["license"] == "Apache-2.0"


def test_the_version_has_one_source():
    metadata = configparser.ConfigParser()
    metadata.read(ROOT / "setup.cfg")
    assert metadata["metadata"]["version"] == "attr: keras_profiler.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", keras_profiler.__version__)
    assert importlib.metadata.version("keras-profiler") == keras_profiler.__version__


def readme_python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, "the README has one Python example: the callback's"
    return blocks[0]


@pytest.mark.slow
def test_the_readme_callback_example_runs(tmp_path):
    example = tmp_path / "example.py"
    example.write_text(readme_python_example())
    env = dict(os.environ, KERAS_BACKEND="jax")
    completed = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rate = re.search(r"steady state: (\d+) images/sec", completed.stdout)
    assert rate and int(rate.group(1)) > 0, completed.stdout
    accuracy = re.search(r"test accuracy: (\d\.\d+)", completed.stdout)
    assert accuracy and 0.0 <= float(accuracy.group(1)) <= 1.0, completed.stdout
