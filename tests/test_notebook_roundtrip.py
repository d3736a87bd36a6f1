"""Every notebook opens in JupyterLab (`make lab`) unmodified, and saving it unchanged rewrites nothing.

The .py file must come back byte for byte through jupytext with the repository's jupytext.toml, and the notebook
JupyterLab is served must already hold the metadata JupyterLab sets when a notebook opens and its kernel starts
(`language_info`, `kernelspec`): a value it changes marks the notebook modified. The contents manager is the one
.jupyter/jupyter_server_config.py gives the server; each notebook is a copy in tmp_path, laid out as in the
repository (jupytext.toml at the root, the notebook under notebooks/).
"""

from __future__ import annotations

import asyncio
import json
import runpy
import shutil
from pathlib import Path

import jupytext
import pytest
from ipykernel.ipkernel import IPythonKernel
from jupytext.config import load_jupytext_configuration_file
from traitlets.config import Config

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("*.py"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_round_trips_through_jupytext_byte_for_byte(name):
    config = load_jupytext_configuration_file(str(REPO / "jupytext.toml"))
    path = REPO / "notebooks" / name
    text = path.read_text()
    assert jupytext.writes(jupytext.read(path, config=config), fmt="py:percent", config=config) == text


def _lab_contents_manager(root: Path):
    settings = runpy.run_path(str(REPO / ".jupyter" / "jupyter_server_config.py"), init_globals={"c": Config()})
    return settings["c"].ServerApp.contents_manager_class(root_dir=str(root))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_opens_with_what_jupyterlab_would_set_and_saves_unchanged(tmp_path, name):
    shutil.copy(REPO / "jupytext.toml", tmp_path)
    (tmp_path / "notebooks").mkdir()
    source = REPO / "notebooks" / name
    shutil.copy(source, tmp_path / "notebooks" / name)
    manager = _lab_contents_manager(tmp_path)

    async def open_and_save():
        model = await manager.get(f"notebooks/{name}")
        await manager.save({"type": "notebook", "format": "json", "content": model["content"]}, f"notebooks/{name}")
        return model

    model = asyncio.run(open_and_save())
    assert (model["type"], model["format"]) == ("notebook", "json")
    metadata = model["content"]["metadata"]
    # JupyterLab sets the kernel's language_info, and a kernelspec of the kernel's name, display name and language
    assert metadata["language_info"] == IPythonKernel.language_info
    kernel = json.loads((REPO / ".jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert metadata["kernelspec"] == {"name": "python3", "display_name": kernel["display_name"], "language": "python"}
    assert (tmp_path / "notebooks" / name).read_bytes() == source.read_bytes()
    assert sorted(path.name for path in (tmp_path / "notebooks").iterdir()) == [name]  # no paired .ipynb
