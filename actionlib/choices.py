"""The names a command line offers as choices, in a module that imports nothing: the parsers are built from it, so
`actionlib <command> --help` and a mistyped option answer without importing torch or pandas. The library's modules
take these names from here."""

DATASETS = ("hmdb51", "ucf101", "synthetic")
# test protocol -> (clips, crops) in the data pipeline's vocabulary (Appendix C.2)
PROTOCOLS = {
    "single-center": ("single", "center"),
    "single-ten": ("single", "ten"),
    "multi-center": ("multi", "center"),
    "multi-ten": ("multi", "ten"),
}
OPTIMIZERS = ("sgd", "adam", "adamw", "swats")
# Copies of names defined in modules that import pandas or torch (tests/test_cli_help.py checks they agree):
FUSION_METHODS = ("softmax", "l2")  # actionlib.engine.fusion.FUSION_METHODS
PROFILES = ("test", "smoke", "cpu", "full", "tiny")  # the keys of actionlib.profiles.PROFILES
KERNEL_ENV = "ACTIONLIB_KERNEL"  # actionlib.reproduce.execution.KERNEL_ENV
