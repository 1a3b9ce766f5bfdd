"""hitlab: a hands-on lab workbook for healthcare-IT technical interviews.

The public Python API lives in :mod:`hitlab.api`; the command line (``hitlab``) mirrors it. In a lab
notebook, ``from hitlab import check_my_work; check_my_work()`` saves the notebook and grades it.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "check_my_work"]


def __getattr__(name: str):
    # Imported on first use: `import hitlab` does no work.
    if name == "check_my_work":
        from hitlab.notebook_check import check_my_work

        return check_my_work
    raise AttributeError(f"module 'hitlab' has no attribute {name!r}")
