"""Small, tested HL7 v2 pieces the labs share: ER7 text (``er7``: segments, fields, escapes) and MLLP framing
with a loopback listener (``mllp``). Parsing and building real messages is hl7apy's job; these exist so the
checks have an independent reference and the practice servers (:mod:`hitlab.practice`) a listener.

An exam release ships ``er7`` only: ``mllp``'s framing and client are lab 03's graded answers."""


def __getattr__(name: str):
    if name != "mllp":
        raise AttributeError(f"module 'hitlab.hl7' has no attribute {name!r}")
    import importlib

    try:
        return importlib.import_module("hitlab.hl7.mllp")
    except ModuleNotFoundError as missing:
        if missing.name != "hitlab.hl7.mllp":
            raise
        raise ImportError(
            "hitlab.hl7.mllp is not in this course's learner install (an exam release): its framing and client "
            "are what lab 03 grades. Write them in the notebook; hitlab.practice has listeners to try them on.",
            name="hitlab.hl7.mllp",
        ) from None
