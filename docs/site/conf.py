"""Sphinx configuration of the results site; build it with docs/site/build.py (`make docs`), which stages the
executed notebooks and runs Sphinx with this folder as its configuration."""

project = "actionlib"
author = "actionlib contributors"
copyright = "the actionlib contributors"
html_title = "actionlib: late temporal modeling, replicated"

extensions = ["myst_nb"]
# Render the outputs stored by `actionlib reproduce`; never start a kernel.
nb_execution_mode = "off"
nb_merge_streams = True
# Widget bars are removed before the build; without widgets myst-nb loads no require.js from a CDN.
nb_ipywidgets_js = {}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# Staged by build.py for the {include}, {image} and {download} directives, not pages of their own.
exclude_patterns = ["tables/**", "headlines/**", "figures/**", "downloads/**", "**.ipynb_checkpoints"]
# Every figure of a notebook as wide as the text column; Sphinx links a scaled image to itself (click to enlarge).
nb_render_image_options = {"width": "100%"}
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_source_button": False,
    "navigation_with_keys": False,
}
html_static_path = ["_static"]
html_css_files = ["site.css"]
# The executed notebooks are in results/executed/ already: no second copy under _sources/.
html_copy_source = False
html_show_sourcelink = False
# Search results show an excerpt of each page (Sphinx fetches the page): when the site is served over HTTP
# (`python -m http.server -d results/site`); opened from disk, browsers refuse the fetch and show the titles only.
html_show_search_summary = True
html_last_updated_fmt = None
