"""hitlab: a hands-on lab workbook for healthcare-IT technical interviews.

The public Python API lives in :mod:`hitlab.api`; the command line (``hitlab``) mirrors it.
"""

__version__ = "0.1.0"
