"""JupyterLab (`make lab`) opens notebooks/NN_*.py as notebooks, and saving one rewrites nothing but its cells.

The contents manager here is the one JupyterLab runs: jupytext's server extension derives it from jupyter_server's
AsyncLargeFileManager. The notebook is a copy in tmp_path, laid out as in the repository (jupytext.toml at the
root, the notebook under notebooks/).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import jupytext
import pytest
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/04_3d_architectures.py"


@pytest.fixture
def clone(tmp_path) -> Path:
    shutil.copy(REPO / "jupytext.toml", tmp_path)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(REPO / NOTEBOOK, tmp_path / NOTEBOOK)
    return tmp_path


def _open_and_save(root: Path, edit=None) -> dict:
    """get() the notebook as JupyterLab does, let `edit` change the model as a session would, save() it."""
    manager = jupytext.build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(root_dir=str(root))

    async def go():
        model = await manager.get(NOTEBOOK)
        opened = {"type": model["type"], "format": model["format"]}
        if edit:
            edit(model["content"])
        await manager.save({"type": "notebook", "format": "json", "content": model["content"]}, NOTEBOOK)
        return opened

    return asyncio.run(go())


def test_a_py_notebook_opens_as_a_notebook_and_saves_unchanged(clone):
    opened = _open_and_save(clone)
    assert opened == {"type": "notebook", "format": "json"}
    assert (clone / NOTEBOOK).read_bytes() == (REPO / NOTEBOOK).read_bytes()
    assert not list(clone.glob("**/*.ipynb"))  # no paired .ipynb next to the source


def test_what_a_jupyterlab_session_adds_is_not_saved(clone):
    """Running cells adds outputs, counts, timings, collapsed/scrolled flags, language_info, widget state, and the
    kernel's display name: none of it may reach the tracked .py file."""

    def run_all(nb):
        kernel = json.loads((REPO / ".jupyter" / "kernels" / "python3" / "kernel.json").read_text())
        nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": kernel["display_name"], "language": "python"}
        nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7", "file_extension": ".py"}
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        for n, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
            cell["execution_count"] = n + 1
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "done\n"}]
            cell["metadata"].update(
                execution={"iopub.status.busy": "2026-01-01T00:00:00Z"},
                scrolled=True,
                collapsed=False,
                jupyter={"source_hidden": True, "outputs_hidden": False},
                trusted=True,
            )

    _open_and_save(clone, run_all)
    assert (clone / NOTEBOOK).read_text() == (REPO / NOTEBOOK).read_text()


def test_an_edit_is_saved_with_the_cell_tags(clone):
    def edit(nb):
        nb["cells"][1]["source"] = nb["cells"][1]["source"].replace("seed: int = 0", "seed: int = 1")

    _open_and_save(clone, edit)
    saved, original = (clone / NOTEBOOK).read_text(), (REPO / NOTEBOOK).read_text()
    assert saved == original.replace("\nseed: int = 0\n", "\nseed: int = 1\n") and saved != original
    assert '# %% tags=["parameters"]' in saved


def test_lab_settings_open_py_files_as_notebooks_with_the_headers_kernel():
    """`make lab` adds .jupyter/ to the Jupyter paths: the default viewer for Python files is jupytext's
    notebook, and the `python3` kernel has the display name every notebook's header records."""
    overrides = json.loads((REPO / ".jupyter" / "labconfig" / "default_setting_overrides.json").read_text())
    assert overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"] == "Jupytext Notebook"
    kernel = json.loads((REPO / ".jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert kernel["argv"][0] == "python"  # jupyter_client runs it with the server's own interpreter
    for path in sorted((REPO / "notebooks").glob("*.py")):
        spec = jupytext.read(path).metadata["kernelspec"]
        assert (spec["name"], spec["display_name"]) == ("python3", kernel["display_name"]), path.name
