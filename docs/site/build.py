"""Build the results site from the executed notebooks, without running them again.

    python docs/site/build.py [--results results] [--out results/site]

Sphinx + myst-nb (`nb_execution_mode = "off"`: the stored outputs are rendered) with sphinx-book-theme, all from
PyPI and offline. Sphinx cannot take pages from outside its source folder, so the pages are staged in a
temporary folder: the pages of this folder (index.md, running.md), `notebooks/NN_*.ipynb` from
`<results>/executed/` (the failed/ copies are left out), `tables/` and `figures/` from the results, the files a
page offers for download (`downloads/`: its executed notebook, its `.py` source, its training log) and the pages
generated here (`headlines/*.md` for the landing page, `tables.md`, the index of the tables). The configuration
stays here (`-c`). The tables and figures are copied into the site too (`tables/`, `figures/`), for the links
under each table and on each folded figure.

Every notebook is cleaned again on the way (actionlib.reproduce.clean_outputs): pages made by an older
`actionlib reproduce` still lose their progress bars and machine paths, and the training's log lines (epochs,
`--resume` notes) go to the page's log file (with `<results>/logs/NN.log`, where `study.report.training_log` puts
them). Under each page's title, a line links its executed notebook, its source and its log, and names the
parameters it ran with.

Which code a reader sees is decided by cell tags, which the notebooks can carry in their `.py` source
(`# %% tags=["remove-input"]`):

- no tag: the code is folded away behind a "Show code cell source" toggle and its outputs are shown;
- `parameters` or `show-input`: the code is shown (the parameters are what a reader changes);
- `injected-parameters` (papermill's cell): removed; the line under the title names the parameters instead;
- myst-nb's own tags (`remove-input`, `remove-output`, `remove-cell`, `hide-input`, `hide-output`, `hide-cell`)
  are left to myst-nb: `remove-input` for plumbing (imports, configuration, asserts), `remove-cell` for cells
  whose output does not belong on the page either.

Code cells with a long text output get `scroll-output`, so that a long output does not fill the page, and a
heading over nothing (e.g. "Checks" above assertions that print nothing) is left out.

The site is written to a new folder which then replaces `--out` (a failed build leaves the previous site).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PAGES = ("index.md", "running.md", "cpu-profile.md", "library.md", "full-profile.md", "speed.md", "development.md")
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
# Tags after which the build leaves a cell's display to the notebook's author.
LAYOUT_TAGS = {"remove-input", "remove-output", "remove-cell", "hide-input", "hide-output", "hide-cell"}
SHOWN_TAGS = {"parameters", "show-input"}
LONG_OUTPUT_LINES = 25
# The landing page's headline tables: (table, [(column, heading, decimals)]).
_HEADLINE_COLUMNS = [
    ("row", "row", None),
    ("thesis_top1", "thesis Top-1 (HMDB51)", 2),
    ("top1", "ours Top-1 (synthetic)", 1),
    ("top1_ci_low", "95 % from", 0),
    ("top1_ci_high", "to", 0),
    ("n_runs", "runs", 0),
    ("reversed_pairs", "ours reversed pairs (%)", 0),
    ("status", "status", None),
]
HEADLINES = {"01_table3.3_pooling": _HEADLINE_COLUMNS, "06_table4.3_bert_3d": _HEADLINE_COLUMNS}
# The claims headline: every notebook's `NN_claims.csv`, one line per thesis claim tested (on all test videos, then
# its controls: the appearance classes only, and the control datasets `study.CONTROL_SETS`).
CLAIM_COLUMNS = [
    ("claim", "claim (A against B)", None),
    ("classes", "test videos", None),
    ("thesis_difference", "thesis A - B", 2),
    ("difference", "ours A - B", 1),
    ("ci_low", "95 % from", 1),
    ("ci_high", "to", 1),
    ("n_runs", "runs", 0),
    ("verdict", "verdict", None),
]


def _cell_tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def prepare_notebook(nb, log: list[str] | None = None):
    """Clean the outputs (their training log lines into `log`, given a list) and tag the cells for the page (see
    the module's docstring)."""
    from actionlib.reproduce import clean_outputs

    clean_outputs(nb, log=log if log is not None else [])
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        tags = _cell_tags(cell)
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if not set(tags) & (LAYOUT_TAGS | SHOWN_TAGS):
            tags.append("hide-input")
        lines = sum(len(o.get("text", "").splitlines()) for o in cell.get("outputs", []))
        if lines > LONG_OUTPUT_LINES and "scroll-output" not in tags:
            tags.append("scroll-output")
        cell.metadata["tags"] = tags
    nb.cells = _without_empty_headings(nb.cells)
    return nb


def _heading_only(cell) -> bool:
    lines = [line for line in cell.get("source", "").splitlines() if line.strip()]
    return cell.get("cell_type") == "markdown" and bool(lines) and all(line.startswith("#") for line in lines)


def _shows_nothing(cell) -> bool:
    """A code cell that puts nothing on a page: its source removed and no output."""
    tags = set(_cell_tags(cell))
    return cell.get("cell_type") == "code" and not cell.get("outputs") and bool(tags & {"remove-input", "remove-cell"})


def _without_empty_headings(cells: list) -> list:
    """`cells` less the headings over nothing: up to the next heading (or the end) only cells that show nothing."""
    kept = []
    for i, cell in enumerate(cells):
        if _heading_only(cell):
            rest = cells[i + 1 :]
            end = next((k for k, c in enumerate(rest) if c.get("cell_type") == "markdown"), len(rest))
            next_is_heading = end == len(rest) or rest[end].get("source", "").lstrip().startswith("#")
            if next_is_heading and all(_shows_nothing(c) for c in rest[:end]):
                continue
        kept.append(cell)
    return kept


def page_links(stem: str, files: dict[str, str], parameters: dict) -> str:
    """The line under a page's title: download links to its executed notebook, its `.py` source and its training
    log (`files`: kind -> the name shown; a source not in the site is named as a repository path) and the
    parameters it ran with."""
    parts = [f"Executed notebook {{download}}`{stem}.ipynb <../downloads/{stem}.ipynb>`"]
    if "py" in files:
        parts.append(f"source {{download}}`{files['py']} <../downloads/{stem}.py>`")
    else:
        parts.append(f"source `notebooks/{stem}.py` in the repository")
    if "log" in files:
        parts.append(f"training log {{download}}`{stem}.log <../downloads/{stem}.log>`")
    if parameters:
        parts.append("run with " + ", ".join(f"`{k}={json.dumps(v)}`" for k, v in parameters.items()))
    return " · ".join(parts)


def _under_title(nb, line: str) -> None:
    """Put `line` in its own paragraph right under the notebook's title (its first "# " heading)."""
    for cell in nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        lines = cell.source.split("\n")
        for i, text in enumerate(lines):
            if text.startswith("# "):
                cell.source = "\n".join([*lines[: i + 1], "", line, "", *lines[i + 1 :]]).rstrip() + "\n"
                return
    from nbformat.v4 import new_markdown_cell

    nb.cells.insert(0, new_markdown_cell(line))


def _number(value: str, decimals: int | None) -> str:
    if decimals is None:
        return value.replace("|", "\\|")
    try:
        number = float(value)
    except ValueError:
        return value or "-"  # empty: no thesis value
    return "-" if number != number else f"{number:.{decimals}f}"


def headline_table(csv_path: Path, columns) -> str:
    """A short Markdown table of a results CSV: the columns a reader compares, rounded."""
    if not csv_path.is_file():
        return f"*{csv_path.name} is not there yet: `make reproduce` writes it.*\n"
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in columns if rows and c[0] in rows[0]]
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_number(row[c], d) for c, _, d in columns) + " |")
    return "\n".join(lines) + "\n"


def claims_table(tables: Path) -> str:
    """The thesis's claims as every notebook tested them (`NN_claims.csv`), in notebook order."""
    files = sorted(tables.glob("[0-9][0-9]_claims.csv"))
    if not files:
        return "*No claims table yet: `make reproduce` writes them.*\n"
    parts = [headline_table(f, CLAIM_COLUMNS) for f in files]
    header, lines = parts[0].splitlines()[:2], [line for part in parts for line in part.splitlines()[2:]]
    return "\n".join(header + lines) + "\n"


def complexity_summary(md_path: Path) -> str:
    """The landing page's sentence on parameters and operations, counted from the complexity table's `equal`
    column."""
    if not md_path.is_file():
        return "*The complexity table is not there yet: `make reproduce` writes it.*\n"
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in md_path.read_text().splitlines()]
    rows = [r for r in rows if r and not set(r[0]) <= set(":-")]
    if not rows or "equal" not in rows[0]:
        return ""
    equal = [r[rows[0].index("equal")] for r in rows[1:]]
    return (
        f"**Parameters and operations**: {equal.count('yes')} of the thesis's {len(equal)} rows are regenerated equal "
        "at its printed precision (they do not depend on data; every row under `complexity` in [all tables](tables.md)).\n"
    )


def _table_line(path: Path) -> str:
    """One line of the tables' index: a table's name, its rows, how many ran (those with a Top-1 of ours, where
    it has that column), its profile and its files."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ran = str(sum(bool(r["top1"]) for r in rows)) if rows and "top1" in rows[0] else ""
    profile = rows[0].get("profile", "") if rows else ""
    files = [f'<a href="tables/{path.name}">CSV</a>']
    if path.with_suffix(".md").is_file():
        files.append(f'<a href="tables/{path.stem}.md">Markdown</a>')
    return f"| {path.stem} | {len(rows)} | {ran} | {profile} | {' · '.join(files)} |"


def all_tables_page(results: Path, notebooks: list[Path]) -> str:
    """The index of the tables the notebooks wrote, under each notebook's page: rows, rows run, profile and
    links to the files (every column; a notebook's page shows each table compactly)."""
    lines = [
        "# All tables",
        "",
        "Every table the notebooks wrote (`results/tables/`), in the order of the thesis, with its number of rows, "
        "how many of them ran under the profile that made it, and its files: the CSV has every column (for a "
        "spreadsheet or pandas), the Markdown file the same as text. Each notebook's page shows its tables "
        "compactly, with the rows that did not run folded into one line.",
    ]
    header = ["", "| table | rows | ran | profile | files |", "|---|---|---|---|---|"]
    tables = sorted((results / "tables").glob("*.csv"))
    for nb in notebooks:
        mine = [t for t in tables if t.name.startswith(nb.name[:3])]
        if mine:
            lines += ["", f"## {_title(nb)}", "", f"On [its page](notebooks/{nb.stem}.ipynb):", *header]
            lines += [_table_line(t) for t in mine]
    other = [t for t in tables if not re.match(r"\d\d_", t.name)]
    if other:
        lines += ["", "## Other tables", *header] + [_table_line(t) for t in other]
    return "\n".join(lines) + "\n"


def _title(path: Path) -> str:
    """A notebook's title: its first "# " heading, else its name."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else []:
            if line.startswith("# "):
                return line[2:].strip()
    return path.stem


def stage(results: Path, folder: Path) -> list[Path]:
    """Lay out the Sphinx source folder; returns the notebooks staged, in thesis order."""
    import nbformat

    from actionlib.reproduce import clean_outputs, hide_paths, machine_roots

    for page in PAGES:
        shutil.copyfile(HERE / page, folder / page)
    for name in ("tables", "figures"):
        if (results / name).is_dir():
            shutil.copytree(results / name, folder / name)
    (folder / "notebooks").mkdir()
    downloads = folder / "downloads"
    downloads.mkdir()
    staged = []
    for path in sorted((results / "executed").glob(NOTEBOOK_GLOB)):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # a broken file must not take the other pages with it
            print(f"site: skipping {path.name}: {err}", file=sys.stderr)
            continue
        if not nb.cells:
            continue
        nbformat.write(clean_outputs(nbformat.read(path, as_version=4)), downloads / path.name)
        files = {"ipynb": path.name}
        source = REPO / "notebooks" / f"{path.stem}.py"
        if source.is_file():
            shutil.copyfile(source, downloads / source.name)
            files["py"] = f"notebooks/{source.name}"
        log = []
        prepare_notebook(nb, log)
        kept = results / "logs" / f"{path.name[:2]}.log"  # study.report.training_log's
        text = (kept.read_text(encoding="utf-8") if kept.is_file() else "") + "".join(f"{line}\n" for line in log)
        if text.strip():
            (downloads / f"{path.stem}.log").write_text(hide_paths(text, machine_roots()), encoding="utf-8")
            files["log"] = f"{path.stem}.log"
        _under_title(nb, page_links(path.stem, files, nb.metadata.get("papermill", {}).get("parameters", {})))
        nbformat.write(nb, folder / "notebooks" / path.name)
        staged.append(folder / "notebooks" / path.name)
    (folder / "headlines").mkdir()
    for table, columns in HEADLINES.items():
        (folder / "headlines" / f"{table}.md").write_text(headline_table(results / "tables" / f"{table}.csv", columns))
    (folder / "headlines" / "complexity.md").write_text(complexity_summary(results / "tables" / "complexity.md"))
    (folder / "headlines" / "claims.md").write_text(claims_table(results / "tables"))
    (folder / "tables.md").write_text(all_tables_page(results, staged))
    return staged


def prune(site: Path) -> None:
    """Remove what a reader never loads: source maps of the theme's scripts and styles (3 MB), its message
    catalogues, and Sphinx's hash of the configuration (it changes on every machine)."""
    for path in site.rglob("*.map"):
        path.unlink()
    shutil.rmtree(site / "_static" / "locales", ignore_errors=True)
    if (site / "_sources").is_dir() and not any((site / "_sources").iterdir()):
        (site / "_sources").rmdir()
    (site / ".buildinfo").unlink(missing_ok=True)


def build(results: str | Path = REPO / "results", out: str | Path | None = None, quiet: bool = False) -> Path:
    """Build the site of `results` into `out` (default <results>/site); returns the index page."""
    from sphinx.cmd.build import build_main

    results = Path(results).resolve()
    out = Path(out).resolve() if out else results / "site"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="actionlib-site-") as tmp:
        # myst-nb writes the outputs' images into <html>/../jupyter_execute: the html folder goes in tmp too
        source, doctrees, html = Path(tmp, "source"), Path(tmp, "doctrees"), Path(tmp, "html")
        source.mkdir()
        if not stage(results, source):
            raise FileNotFoundError(f"no executed notebooks in {results / 'executed'}: run `make reproduce` first")
        args = ["-b", "html", "-c", str(HERE), "-d", str(doctrees), str(source), str(html)]
        code = build_main(["-q", *args] if quiet else args)
        if code != 0:
            raise RuntimeError(f"sphinx-build failed (exit {code})")
        prune(html)
        for name in ("tables", "figures"):  # the links under each table and on each figure (study.report.show)
            if (results / name).is_dir():
                shutil.copytree(results / name, html / name, dirs_exist_ok=True)
        new, old = out.with_name(f".{out.name}.new"), out.with_name(f".{out.name}.old")
        for folder in (new, old):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(html, new)
        if out.exists():
            out.rename(old)
        new.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(REPO / "results"), help="results folder (default: <repo>/results)")
    parser.add_argument("--out", help="site folder (default: <results>/site)")
    parser.add_argument("--quiet", action="store_true", help="print warnings and errors only")
    args = parser.parse_args(argv)
    try:
        index = build(args.results, args.out, quiet=args.quiet)
    except (FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"site: {index}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # actionlib, when it is not installed
    sys.exit(main())
