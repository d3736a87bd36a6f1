"""actionlib: late temporal modeling for action recognition, after Kalfaoglu (METU, 2020)."""

__version__ = "0.1.0"
