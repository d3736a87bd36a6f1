"""The results site (docs/site/build.py) and the cleaning of executed notebooks that it and `actionlib reproduce`
rely on: no progress bars, no machine paths, plumbing code folded away; the built site opened in Chromium."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from actionlib import reproduce, study

from .test_report import displayed, summary_fixture

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results"
BUILDER = REPO / "docs" / "site" / "build.py"
# What no page may show: a machine's folders, a tqdm bar's rate or its block characters.
MACHINE_PATH = re.compile(r"/work/|/root/|/tmp/|/home/")
PROGRESS_BAR = re.compile(r"it/s\]|[\u2588-\u258f]")
# A training run's log line, which belongs in the page's log file.
LOG_LINE = re.compile(r"epoch \d+: train loss|--resume: no checkpoint")
# The longest a notebook page may be at 1280 px: a third of notebook 04's page before the pages were made compact
# (17,407 px, its 60-row Table C.2 open and every figure shown)
LONGEST_PAGE = 17_407 // 3
ROOTS = {"/home/alice/actionlib": "<repo>", "/home/alice": "~", "/tmp": "<tmp>"}


def _site_builder():
    spec = importlib.util.spec_from_file_location("site_build", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stream(name: str, text: str):
    return new_output("stream", name=name, text=text)


def _fake_notebook():
    """What papermill writes: tqdm bars on stderr and as widgets, warnings, paths of the machine it ran on."""
    bar = "".join(f"\rheads:  {p}%|{'█' * (p // 10):10}| {p // 10}/10 [00:0{p // 50}<00:01, 7.41it/s]" for p in (0, 50))
    traceback = [
        "\x1b[0;31mValueError\x1b[0m",
        "File \x1b[0;32m/home/alice/actionlib/actionlib/engine/train.py:12\x1b[0m",
    ]
    widget = {
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "features:   0%|          | 0/11 [00:00<?, ?it/s]",
    }
    cells = [
        new_markdown_cell("# 01: A notebook\n\nText."),
        new_code_cell("data_root = None  # type: Optional[str]", metadata={"tags": ["parameters"]}),
        new_code_cell('data_root = "/home/alice/actionlib/data"\n', metadata={"tags": ["injected-parameters"]}),
        new_code_cell(
            "train()",
            outputs=[
                _stream("stderr", bar + "\n"),
                _stream("stderr", "\r" + " " * 40 + "\r\x1b[A\n"),
                _stream(
                    "stderr",
                    "/home/alice/actionlib/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: "
                    "IProgress not found. Please update jupyter and ipywidgets.\n"
                    "  from .autonotebook import tqdm as notebook_tqdm\n"
                    "UserWarning: lr is large\n",
                ),
                _stream("stdout", "--resume: no checkpoint at /home/alice/actionlib/runs/abc/last.pt\n"),
                _stream("stdout", "cached in /srv/other-clone/runs/backbones/x/last.pt and /tmp/actionlib-1/y\n"),
                _stream("stdout", "see https://example.org/tmp/page and ~/data\n"),
                _stream("stdout", "<repo>/scratch/results/test is already clean\n"),
                new_output("display_data", data=widget),
                new_output(
                    "execute_result",
                    data={"text/html": "<td>/home/alice/x.csv</td><td>/home/alice/actionlib/runs/a</td>"},
                    execution_count=1,
                ),
                new_output("error", ename="ValueError", evalue="/home/alice/actionlib/x", traceback=traceback),
            ],
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["papermill"] = {"parameters": {"data_root": "/home/alice/actionlib/data", "seed": 1}}
    return nb


def test_clean_outputs_removes_progress_bars_and_machine_paths():
    nb = reproduce.clean_outputs(_fake_notebook(), ROOTS)
    outputs = nb.cells[3].outputs
    text = json.dumps(nb, ensure_ascii=False)
    assert not PROGRESS_BAR.search(text) and "%|" not in text
    assert "/home/" not in text and "/srv/" not in text and "/tmp/actionlib" not in text
    assert "TqdmWarning" not in text and "autonotebook" not in text
    streams = [o.get("name") for o in outputs if o.output_type == "stream"]
    assert streams == ["stderr", "stdout", "stdout", "stdout", "stdout"]
    assert outputs[0].text.strip() == "UserWarning: lr is large"  # a real warning stays
    assert outputs[1].text == "--resume: no checkpoint at <repo>/runs/abc/last.pt\n"
    assert outputs[2].text == "cached in <repo>/runs/backbones/x/last.pt and <tmp>/actionlib-1/y\n"
    assert outputs[3].text == "see https://example.org/tmp/page and ~/data\n"  # a URL is not a path
    assert outputs[4].text == "<repo>/scratch/results/test is already clean\n"
    assert outputs[5].data["text/html"] == "<td>~/x.csv</td><td>&lt;repo&gt;/runs/a</td>"  # <repo> is no tag
    assert outputs[6].evalue == "<repo>/x" and "<repo>/actionlib/engine/train.py" in outputs[6].traceback[1]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert "widgets" not in nb.metadata
    assert nb.cells[2].source == 'data_root = "<repo>/data"\n'
    assert nb.metadata["papermill"]["parameters"] == {"data_root": "<repo>/data", "seed": 1}
    nbformat.validate(nb)


def test_clean_notebook_hides_this_machines_folders():
    root = reproduce.repo_root()
    nb = new_notebook(cells=[new_code_cell("x", outputs=[_stream("stdout", f"{root}/runs/a and {Path.home()}/b\n")])])
    reproduce.clean_notebook(nb, "notebooks/01_x.py", "executed/01_x.ipynb")
    assert nb.cells[0].outputs[0].text == "<repo>/runs/a and ~/b\n"


def test_committed_executed_notebooks_clean_up():
    """The pages in results/executed/ were made on another machine: cleaning them leaves no path and no bar."""
    for path in sorted((RESULTS / "executed").glob("[0-9][0-9]_*.ipynb")):
        nb = reproduce.clean_outputs(nbformat.read(path, as_version=4))
        outputs = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
        assert not MACHINE_PATH.search(outputs), path.name
        assert not PROGRESS_BAR.search(outputs), path.name


def test_reproduce_skips_the_site_with_one_note_without_the_docs_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce.rendering.importlib.util, "find_spec", lambda name: None)
    assert reproduce.build_site(tmp_path) == (
        'site: not built (needs the docs extra: pip install -e ".[docs]", then make docs)'
    )
    assert not (tmp_path / "site").exists()


def test_site_folds_code_but_parameters_and_tagged_cells():
    build = _site_builder()
    long_log = _stream("stdout", "epoch\n" * 40)
    cells = [
        new_markdown_cell("# 01: A notebook"),
        new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
        new_code_cell("import pandas as pd"),
        new_code_cell("import os", metadata={"tags": ["remove-input"]}),
        new_code_cell("train()", outputs=[long_log]),
        new_code_cell("shown()", metadata={"tags": ["show-input"]}),
    ]
    nb = build.prepare_notebook(new_notebook(cells=cells))
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags == [
        [],
        ["parameters"],
        ["hide-input"],
        ["remove-input"],
        ["hide-input", "scroll-output"],
        ["show-input"],
    ]


def test_pages_lose_papermills_cell_the_training_log_and_empty_headings():
    build = _site_builder()
    log_lines = (
        "epoch 0: train loss 2.0000 top1 9.00 | val loss 2.1000 top1 8.00 top3 20.00 | lr 1.00e-03 | best 8.00\n"
        "--resume: no checkpoint at /home/alice/actionlib/runs/heads/a/last.pt; starting a new run\n"
    )
    cells = [
        new_markdown_cell("# 01: A notebook\n\nText."),
        new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
        new_code_cell('# Parameters\nprofile = "smoke"\n', metadata={"tags": ["injected-parameters"]}),
        new_code_cell("nb = study.notebook()", outputs=[_stream("stdout", log_lines + "a caption\n")]),
        new_markdown_cell("## Checks"),
        new_code_cell("assert True", metadata={"tags": ["remove-input"]}),
    ]
    log = []
    nb = build.prepare_notebook(new_notebook(cells=cells), log)
    assert [c.source for c in nb.cells if c.cell_type == "markdown"] == ["# 01: A notebook\n\nText."]
    assert "remove-cell" in nb.cells[2].metadata["tags"]
    assert [o.text for o in nb.cells[3].outputs] == ["a caption\n"]
    assert log[0].startswith("epoch 0: train loss") and log[1].startswith("--resume: no checkpoint at <repo>/runs/")
    links = build.page_links("01_a", {"ipynb": "01_a.ipynb", "py": "notebooks/01_a.py"}, {"profile": "smoke"})
    assert links == (
        "Executed notebook {download}`01_a.ipynb <../downloads/01_a.ipynb>` · source "
        '{download}`notebooks/01_a.py <../downloads/01_a.py>` · run with `profile="smoke"`'
    )


def test_all_tables_page_is_an_index_of_the_files_without_nan(tmp_path):
    build = _site_builder()
    study.save_table(summary_fixture(), tmp_path, "01_table3.3_pooling", profile="smoke")
    study.save_table(summary_fixture("3.4", ran=0, not_run=4), tmp_path, "01_table3.4_fusion", profile="smoke")
    notebook = tmp_path / "01_a.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# 01: A notebook")]), notebook)
    page = build.all_tables_page(tmp_path, [notebook])
    assert "## 01: A notebook" in page and "[its page](notebooks/01_a.ipynb)" in page
    assert "| 01_table3.3_pooling | 12 | 4 | smoke | " in page and "| 01_table3.4_fusion | 4 | 0 | smoke | " in page
    assert '<a href="tables/01_table3.3_pooling.csv">CSV</a>' in page and not re.search(r"\bnan\b", page)


def test_headline_table_is_short_and_rounded(tmp_path):
    build = _site_builder()
    csv = tmp_path / "t.csv"
    csv.write_text(
        "row,head,thesis_top1,top1,reversed_pairs,seconds\nBERT,bert,49.17,68.75,73.61,11.4\nNew,x,,84.03,93.06,1\n"
    )
    table = build.headline_table(csv, build.HEADLINES["01_table3.3_pooling"])
    assert table.splitlines() == [
        "| row | thesis Top-1 (HMDB51) | ours Top-1 (synthetic) | ours reversed pairs (%) |",
        "|---|---|---|---|",
        "| BERT | 49.17 | 68.8 | 74 |",
        "| New | - | 84.0 | 93 |",
    ]


def _chrome(monkeypatch, width: int = 1400):
    """Headless Chromium through Debian's chromedriver, `width` pixels wide; the performance log records every
    request."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "selenium"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[dev,docs]'")
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("needs Debian's chromium and chromium-driver: `make browser` installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def _fixture_results(folder: Path) -> Path:
    """A results folder with one executed notebook as `actionlib reproduce` writes it: papermill's parameters
    cell, a training log on stdout, a table that ran (wide: every summary column, long names and statuses) and one
    that did not, each shown by `study.show`, and a "Checks" heading over a hidden cell."""
    ran, nothing = summary_fixture(), summary_fixture("3.4", ran=0, not_run=4)
    for table, name in ((ran, "01_table3.3_pooling"), (nothing, "01_table3.4_fusion")):
        study.save_table(table, folder, name, profile="smoke")
        figure = folder / "figures" / f"{name}.png"
        fig = study.plot_table(table, name, figure)
        if fig is not None:
            study.report._close(fig)
        table.attrs["figure"] = str(figure)
    log = "".join(
        f"epoch {i}: train loss 2.0000 top1 9.00 | val loss 2.1000 top1 8.00 top3 20.00 | lr 1.00e-03 | best 8.00\n"
        for i in range(40)
    )
    cells = [
        new_markdown_cell("# 01: Late temporal pooling (fixture)\n\nText."),
        new_code_cell('profile: str = "smoke"', metadata={"tags": ["parameters"]}),
        new_code_cell('# Parameters\nprofile = "smoke"\n', metadata={"tags": ["injected-parameters"]}),
        new_markdown_cell("## Table 3.3"),
        new_code_cell("study.show(by_table['3.3'])", outputs=[_stream("stdout", log), *displayed(study.show, ran)]),
        new_markdown_cell("## Table 3.4"),
        new_code_cell("study.show(by_table['3.4'])", outputs=displayed(study.show, nothing)),
        new_markdown_cell("## Checks"),
        new_code_cell("assert True", metadata={"tags": ["remove-input"]}),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["papermill"] = {"parameters": {"profile": "smoke"}, "input_path": "notebooks/01_2d_temporal_pooling.py"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (folder / "executed").mkdir()
    nbformat.write(nb, folder / "executed" / "01_2d_temporal_pooling.ipynb")
    return folder


def test_notebook_pages_read_well_at_1280_px(tmp_path, monkeypatch):
    """A page of a fixture notebook in Chromium 1280 px wide: its tables fit the text column, no training log
    and no papermill cell on it, its notebook, source and log a click away; the tables' index has no `nan`."""
    driver = _chrome(monkeypatch, width=1280)
    try:
        results, site = _fixture_results(tmp_path / "results"), tmp_path / "site"
        subprocess.run(
            [sys.executable, str(BUILDER), "--results", str(results), "--out", str(site), "--quiet"], check=True
        )
        driver.get((site / "notebooks" / "01_2d_temporal_pooling.html").as_uri())
        tables = driver.execute_script(
            "const column = document.querySelector('article').getBoundingClientRect().right;"
            "return [...document.querySelectorAll('article table')].map(t => {"
            "  const box = t.parentElement; return [t.getBoundingClientRect().right <= column + 1,"
            "  box.scrollWidth <= box.clientWidth + 1, t.querySelectorAll('tbody tr').length]; })"
        )
        assert tables == [[True, True, 4]]  # the rows that ran; the rows that did not are one line
        body = driver.execute_script("return document.body.innerText")
        assert not LOG_LINE.search(body) and "# Parameters" not in body and "Checks" not in body
        assert "Table 3.4: 4 rows not run under the smoke profile" in body and not re.search(r"\bnan\b", body)
        assert driver.execute_script("return document.querySelectorAll('.tag_injected-parameters').length") == 0
        links = driver.execute_script("return [...document.querySelectorAll('article a[href]')].map(a => a.href)")
        files = [Path(h.removeprefix("file://").split("#")[0]) for h in links if h.startswith("file:")]
        for suffix in (".ipynb", ".py", ".log", ".csv"):
            found = [f for f in files if f.suffix == suffix]
            assert found and all(f.is_file() for f in found), (suffix, links)
        assert "epoch 39: train loss" in next(f for f in files if f.suffix == ".log").read_text()
        assert driver.execute_script("return document.querySelectorAll('article .cell_output a > img').length") == 1

        driver.get((site / "tables.html").as_uri())
        body = driver.execute_script("return document.body.innerText")
        assert "01_table3.3_pooling" in body and not re.search(r"\bnan\b", body, re.I)
        hrefs = driver.execute_script(
            "return [...document.querySelectorAll('article a[href$=\".csv\"]')].map(a => a.href)"
        )
        assert len(hrefs) == 2 and all(Path(h.removeprefix("file://")).is_file() for h in hrefs)
    finally:
        driver.quit()


def _first_heading(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    return next(line[2:].strip() for line in first.splitlines() if line.startswith("# "))


@pytest.mark.slow
def test_site_in_chromium(tmp_path, monkeypatch):
    """Build the site of the committed results and read it as a person would, offline."""
    executed = sorted((RESULTS / "executed").glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        pytest.skip("no executed notebooks in results/executed/: make reproduce")
    driver = _chrome(monkeypatch)
    try:
        start = time.perf_counter()
        site = tmp_path / "site"
        subprocess.run([sys.executable, str(BUILDER), "--out", str(site), "--quiet"], check=True)
        built = time.perf_counter() - start
        index = site / "index.html"

        pages = sorted(site.rglob("*.html"))
        assert len(pages) >= len(executed) + 3  # index, tables, running (+ search, genindex)
        for page in pages:
            html = page.read_text(encoding="utf-8")
            text = re.sub(r"<[^>]+>", " ", html)
            assert not MACHINE_PATH.search(text), f"{page.name}: {MACHINE_PATH.search(text).group()}"
            assert not PROGRESS_BAR.search(text), f"{page.name}: a progress bar"
            assert not LOG_LINE.search(text), f"{page.name}: a training log line"
            assert "tag_injected-parameters" not in html and not re.search(r"\bnan\b", text), page.name
            if page.parent.name == "notebooks":  # its executed notebook and source, a click away
                assert f'{page.stem}.ipynb"' in html and f'{page.stem}.py"' in html, page.name
            external = re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=\"(https?:[^\"]+)\"", html)
            assert not external, f"{page.name} loads {external}"
        for css in site.rglob("*.css"):
            assert not re.search(r"url\(['\"]?https?:|@import\s+url\(['\"]?https?:", css.read_text(errors="replace")), (
                css
            )

        driver.get(index.as_uri())
        assert "replicated" in driver.title
        hrefs = driver.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)")
        internal = [h.split("#")[0].split("?")[0] for h in hrefs if h.startswith("file:")]
        assert len(internal) > 10
        for href in internal:
            assert Path(href.removeprefix("file://")).exists(), href
        sidebar = driver.execute_script(
            "return [...document.querySelectorAll('.bd-sidebar-primary nav a.reference.internal')]"
            ".map(a => [a.getAttribute('href'), a.textContent.trim().replace(/\\s+/g, ' ')])"
        )
        notebook_links = [(href, title) for href, title in sidebar if href.startswith("notebooks/")]
        assert notebook_links == [(f"notebooks/{p.stem}.html", _first_heading(p)) for p in executed]
        assert driver.execute_script("return document.querySelectorAll('article table').length") >= 2

        first = site / "notebooks" / f"{executed[0].stem}.html"
        for page in (index, first):
            driver.get(page.as_uri())
            images = driver.execute_script("return [...document.images].map(i => [i.src, i.complete, i.naturalWidth])")
            assert images and all(done and width > 0 for _, done, width in images), images
            body = driver.execute_script("return document.body.innerText")
            assert not MACHINE_PATH.search(body) and not PROGRESS_BAR.search(body)
        assert driver.execute_script("return document.querySelectorAll('article table').length") >= 1
        assert (
            driver.find_element("css selector", "a.right-next")
            .get_attribute("href")
            .endswith(f"notebooks/{executed[1].stem}.html")
        )
        driver.set_window_size(1280, 1000)
        for page in sorted((site / "notebooks").glob("*.html")):  # compact pages, tables within the text column
            driver.get(page.as_uri())
            height = driver.execute_script("return document.documentElement.scrollHeight")
            wide = driver.execute_script(
                "const column = document.querySelector('article').getBoundingClientRect().right;"
                "return [...document.querySelectorAll('article table')].filter(t => t.getBoundingClientRect().right"
                " > column + 1 || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).length"
            )
            assert height < LONGEST_PAGE and not wide, (page.name, height, wide)
        driver.get(first.as_uri())
        folded = driver.execute_script("return document.querySelectorAll('div.cell.tag_hide-input details').length")
        assert folded > 0  # plumbing folded away; the parameters cell stays open
        assert driver.execute_script("return document.querySelectorAll('div.cell.tag_parameters').length") == 1

        driver.get((site / "search.html").as_uri() + "?q=BERT")
        found = 0
        for _ in range(50):  # the search runs in the page's script
            found = driver.execute_script("return document.querySelectorAll('#search-results li').length")
            if found:
                break
            time.sleep(0.2)
        assert found > 0

        requests = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
        urls = {m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"}
        assert urls and all(u.startswith(("file:", "data:", "blob:")) for u in urls), sorted(urls)
        print(f"site built in {built:.1f} s, checked in Chromium in {time.perf_counter() - start - built:.1f} s")
    finally:
        driver.quit()


def test_readme_headline_is_the_committed_claims_table():
    """The README's headline is `study.readme_claims` of the committed tables, between two `<!-- claims -->`."""
    from actionlib import study

    readme = (REPO / "README.md").read_text()
    parts = readme.split("<!-- claims -->")
    assert len(parts) == 3, "README.md needs the headline between two <!-- claims --> lines"
    assert parts[1].strip() == study.readme_claims(RESULTS / "tables").strip(), (
        "README.md's headline differs from results/tables/*_claims.csv: paste study.readme_claims('results/tables')"
    )
