"""The documentation: a strict site build, pages generated from the code, and pages checked against it.

- ``mkdocs build --strict`` passes (no broken link or anchor, no missing page, no docstring
  cross-reference that does not resolve), and fails on a page with a broken link;
- the CLI reference and the results schema are generated from their single sources, so a new
  command or a newly registered metric shows up without editing a page;
- the environment-variable page lists exactly the ``CHATGENBENCH_*`` names the code reads;
- the three worked examples of the extending page are installed as a package would be and run
  through the command line;
- the README stays short, and its links into ``docs/`` exist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ENV_NAME = re.compile(r"CHATGENBENCH_[A-Z0-9_]+")


def _load_hooks():
    """Import ``docs/hooks.py`` (it is not a package module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("chatgenbench_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mkdocs_build(config_dir: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=config_dir, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


# -- the site builds, strictly -----------------------------------------------------------------


def test_mkdocs_build_strict_has_no_warning(tmp_path):
    pytest.importorskip(
        "mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'"
    )
    done = _mkdocs_build(ROOT, tmp_path / "site")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    for page in ("cli", "results-schema", "environment", "extending", "api/scoring"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    # the docstrings' Sphinx roles became links, not ":func:" text (a role left unclosed too)
    for page in (tmp_path / "site" / "api").glob("*/index.html"):
        text = page.read_text("utf-8")
        roles = re.findall(r":(?:func|class|meth|mod|data|attr|exc):.{0,60}", text)
        assert roles == [], (page.parent.name, roles[:5])
    api = (tmp_path / "site" / "api" / "scoring" / "index.html").read_text("utf-8")
    assert 'href="#chatgenbench.scoring.result_schema.check_results"' in api


def test_mkdocs_strict_fails_on_a_broken_link_and_an_unresolved_reference(tmp_path):
    pytest.importorskip(
        "mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'"
    )
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(DOCS, copy / "docs")
    for package in ("chatgenbench", "baselines", "leaderboard"):
        (copy / package).symlink_to(ROOT / package)
    page = copy / "docs" / "install.md"
    page.write_text(
        page.read_text("utf-8")
        + "\nSee [gone](no-such-page.md) and [nothing][chatgenbench.no_such_object].\n",
        "utf-8",
    )
    done = _mkdocs_build(copy, tmp_path / "site")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no-such-page.md" in output and "chatgenbench.no_such_object" in output, output


# -- generated pages ---------------------------------------------------------------------------


def _all_commands(parser, path=()):
    hooks = _load_hooks()
    yield path
    for name, sub in hooks._subcommands(parser):
        yield from _all_commands(sub, (*path, name))


def test_cli_reference_is_the_parser_s_help_of_every_command():
    from chatgenbench.cli import build_parser

    page = _load_hooks().cli_reference()
    commands = [c for c in _all_commands(build_parser()) if c]
    assert len(commands) > 20
    for command in commands:
        assert f"`chatgenbench {' '.join(command)}`" in page, command
    # flags come from the parser itself, not from a copy
    assert "--no-reference-cache" in page and "--merge-shards" in page and "--store" in page


def test_cli_reference_follows_a_new_flag(monkeypatch):
    import chatgenbench.cli.scoring as scoring

    register = scoring.register

    def register_with_a_new_flag(sub):
        register(sub)
        sub.choices["schema"].add_argument("--brand-new-flag", help="a flag added after the docs")

    monkeypatch.setattr(scoring, "register", register_with_a_new_flag)
    assert "--brand-new-flag" in _load_hooks().cli_reference()


def test_results_schema_page_lists_every_documented_key_of_the_schema():
    from chatgenbench.scoring.result_schema import SCHEMA_VERSION, documented_keys

    page = _load_hooks().schema_reference()
    assert f"Schema version **{SCHEMA_VERSION}**" in page
    for key in documented_keys():
        assert f"| `{key}` |" in page, key


def test_results_schema_page_follows_a_newly_registered_metric():
    from chatgenbench.metrics.registry import METRICS

    METRICS.register(
        "docs_probe_metric", object(), stage="stepwise", label="Probe", higher_is_better=True,
        fmt="{:.3f}", description="a metric registered after the docs were written",
    )  # fmt: skip
    try:
        page = _load_hooks().schema_reference()
    finally:
        METRICS.unregister("docs_probe_metric")
    assert "| `settings.<setting>.stepwise.docs_probe_metric` | a metric registered after" in page


def test_api_pages_cover_every_public_module_of_each_stage():
    hooks = _load_hooks()
    pages = hooks.generated_pages()
    for folder in [*(ROOT / "chatgenbench").iterdir(), ROOT / "baselines", ROOT / "leaderboard"]:
        if not (folder / "__init__.py").is_file() or folder.name == "data":
            continue
        package = ".".join(folder.relative_to(ROOT).parts)
        page = pages[f"api/{folder.name}.md"]
        for module in folder.glob("*.py"):
            if not module.stem.startswith("_"):
                assert f"::: {package}.{module.stem}\n" in page, module


# -- environment variables ---------------------------------------------------------------------


def names_read_in(*folders: str, suffixes=(".py", ".sh", "")) -> set[str]:
    """Return every ``CHATGENBENCH_*`` name written in the files of ``folders``."""
    names: set[str] = set()
    for folder in folders:
        path = ROOT / folder
        files = [path] if path.is_file() else path.rglob("*")
        for file in files:
            if file.is_file() and file.suffix in suffixes and "__pycache__" not in file.parts:
                names |= set(ENV_NAME.findall(file.read_text("utf-8", errors="replace")))
    return names


def documented_names(section: str) -> set[str]:
    """Return the names in the first column of the table of ``section`` of the environment page."""
    page = (DOCS / "environment.md").read_text("utf-8")
    _, _, rest = page.partition(f"## {section}\n")
    assert rest, f"docs/environment.md has no section {section!r}"
    body = rest.split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(CHATGENBENCH_[A-Z0-9_]+)` \|", body, flags=re.M))


def test_environment_page_documents_exactly_what_the_package_reads():
    read = names_read_in("chatgenbench", "leaderboard", "baselines")
    documented = documented_names("Read by ChatGenBench")
    assert len(read) >= 17
    assert read - documented == set(), "read by the code, not on docs/environment.md"
    assert documented - read == set(), "on docs/environment.md, read by no code"


def test_environment_page_documents_exactly_what_tests_and_benchmarks_read():
    package = names_read_in("chatgenbench", "leaderboard", "baselines")
    read = names_read_in("tests", "benchmarks", ".ci/run") - package
    read.discard("CHATGENBENCH_DOCS_PROBE")  # the probe of the test below
    documented = documented_names("Read by the tests and benchmark scripts")
    assert read - documented == set(), "read by tests or benchmarks, not on docs/environment.md"
    assert documented - read == set(), "on docs/environment.md, read by no test or benchmark"


def test_environment_check_catches_an_undocumented_name(tmp_path, monkeypatch):
    module = tmp_path / "probe.py"
    module.write_text('import os\nos.environ.get("CHATGENBENCH_DOCS_PROBE")\n', "utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert names_read_in("probe.py") == {"CHATGENBENCH_DOCS_PROBE"}
    assert "CHATGENBENCH_DOCS_PROBE" not in documented_names("Read by ChatGenBench")


# -- the extending examples run ----------------------------------------------------------------


def install_examples(site: Path) -> None:
    """Install ``docs/examples`` into ``site`` as pip would: the modules, and a dist-info whose
    entry points are those the examples' ``pyproject.toml`` declares."""
    project = tomllib.loads((DOCS / "examples" / "pyproject.toml").read_text("utf-8"))["project"]
    for module in (DOCS / "examples").glob("*.py"):
        shutil.copy(module, site / module.name)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items())
            for group, entries in groups.items()
        ),
        "utf-8",
    )


@pytest.fixture
def cli_with_examples(tmp_path):
    """Run ``chatgenbench ARGS`` in a fresh process that sees the installed examples."""
    site = tmp_path / "site"
    site.mkdir()
    install_examples(site)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    env["CHATGENBENCH_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "chatgenbench", *args],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    return run


def test_the_extending_page_includes_the_example_files():
    page = (DOCS / "extending.md").read_text("utf-8")
    included = set(re.findall(r'^--8<-- "examples/([^"]+)"$', page, flags=re.M))
    assert included == {
        p.name for p in (DOCS / "examples").iterdir() if p.suffix in {".py", ".toml"}
    }


def test_extending_examples_a_baseline_a_render_backend_and_a_metric_take_effect(
    cli_with_examples, tmp_path
):
    from tests.cli.test_plugins import write_stand_in_weights

    listing = cli_with_examples("baseline", "list")
    (line,) = [row for row in listing.splitlines() if row.startswith("reference-echo\t")]
    assert "cgb-example-plugins 0.1" in line

    predictions = tmp_path / "pred.jsonl"
    cli_with_examples("baseline", "run", "reference-echo", "--benchmark", "sample",
                      "--out", str(predictions), "-o", "size=32", "--no-progress")  # fmt: skip
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == 12 and {
        (r["arguments"]["width"], r["arguments"]["steps"]) for r in rows
    } == {(32, 4)}
    record = json.loads((tmp_path / "pred.run.json").read_text())
    assert record["adapter"] == "reference-echo" and record["options"] == {"size": 32}

    overlay = write_stand_in_weights(tmp_path)
    render = tmp_path / "render"
    cli_with_examples("render", str(predictions), "--benchmark", "sample", "--catalog", str(overlay),
                      "--out", str(render), "--backend", "solid", "--solid-grey", "100",
                      "--device", "cpu", "--dtype", "float32",
                      "--cache-dir", str(tmp_path / "cache"), "--no-progress")  # fmt: skip
    summary = json.loads((render / "render_summary.json").read_text())
    assert summary["settings"]["backend"] == "solid" and summary["n_images"] == 12
    from PIL import Image

    first = next((render / "images").glob("*.png"))
    assert Image.open(first).convert("RGB").getpixel((0, 0)) == (100, 100, 100)

    results_path = tmp_path / "results.json"
    cli_with_examples("evaluate", str(predictions), "--benchmark", "sample", "--images", str(render),
                      "--image-metrics", "brightness", "--brightness-gamma", "2",
                      "--bootstrap-resamples", "20", "--device", "cpu",
                      "--out", str(results_path), "--no-progress")  # fmt: skip
    results = json.loads(results_path.read_text())
    brightness = results["overall"]["image"]["brightness"]
    assert brightness["status"] == "computed", brightness
    assert brightness["value"] == pytest.approx(100 * (100 / 255) ** 2, abs=1e-4)


# -- the README ----------------------------------------------------------------------------------


def test_readme_is_short_with_the_two_commands_and_links_that_exist():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.encode()) <= 10 * 1024, len(readme.encode())
    # the two commands: install and run the main job (one line), and exactly what CI runs
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    test_command = ci.strip().splitlines()[-1]
    assert test_command == "python -m pytest -q"
    assert f"\n{test_command}\n" in readme
    assert (
        "\npython3 -m venv .venv && . .venv/bin/activate && bash install.sh && chatgenbench "
        in readme
    )
    # a picture, and a map into docs/ whose every link exists (relative, so GitHub follows them)
    targets = re.findall(r"\]\(((?:docs/)[^)#\s]+)(?:#[^)]*)?\)", readme)
    assert any(t.endswith(".md") for t in targets) and any(t.endswith(".png") for t in targets)
    for target in targets:
        assert (ROOT / target).is_file(), target


# -- the screenshot script ---------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent counts as stopped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # no such process
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see the child process")
def test_screenshot_script_stops_the_server_and_its_child_by_process_group():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_screenshots", DOCS / "screenshots.py")
    screenshots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(screenshots)
    # a stand-in for 'chatgenbench leaderboard', which runs 'streamlit run' as its child
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = int(server.stdout.readline())
    screenshots._started.append(server)
    try:
        screenshots.stop_started()
        assert server.poll() is not None and screenshots._started == []
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the server's child outlived the script"
    finally:
        if server.poll() is None:
            server.kill()
        if _alive(child):
            os.kill(child, signal.SIGKILL)
        server.stdout.close()
