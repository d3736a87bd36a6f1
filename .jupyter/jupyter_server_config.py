# JupyterLab's server under `make lab` (which puts .jupyter/ on the Jupyter config path): jupytext's contents manager,
# which opens notebooks/NN_*.py as notebooks, with one addition.
#
# A notebook read from a .py file has no `language_info` (jupytext does not keep it in the file: it names the
# Python version). JupyterLab fills it in as soon as a notebook opens (`{"name": ""}` at once, the kernel's own
# once the kernel runs), and a metadata change marks the notebook modified: every notebook opened with an
# unsaved-changes mark though nothing changed. So the notebooks are served with the `language_info` their kernel
# reports (the `python3` kernel of .jupyter/kernels runs this server's interpreter and ipykernel), which JupyterLab
# then finds already in place. Saving writes the .py file without it, as before.
import jupytext
from ipykernel.ipkernel import IPythonKernel
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

KERNEL = "python3"  # .jupyter/kernels/python3: the kernel every notebook's header names


class NotebookContentsManager(jupytext.build_async_jupytext_contents_manager_class(AsyncLargeFileManager)):
    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        notebook = model.get("content") if model.get("type") == "notebook" else None
        if notebook and notebook.metadata.get("kernelspec", {}).get("name") == KERNEL:
            notebook.metadata.setdefault("language_info", dict(IPythonKernel.language_info))
        return model


c.ServerApp.contents_manager_class = NotebookContentsManager  # noqa: F821 (`c`: the config Jupyter passes in)
