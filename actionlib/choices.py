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
FUSION_METHODS = ("softmax", "l2")  # how `evaluate` fuses score sets (engine.fusion)
KERNEL_ENV = "ACTIONLIB_KERNEL"  # the environment variable naming reproduce's Jupyter kernel
# A copy: the profiles themselves live in actionlib.profiles, which imports pandas (tests/test_cli_help.py checks
# that the names agree)
PROFILES = ("test", "smoke", "cpu", "full", "tiny")
