"""Small, tested HL7 v2 pieces the labs share: ER7 text (``er7``: segments, fields, escapes) and MLLP framing
with a loopback listener (``mllp``). Parsing and building real messages is hl7apy's job; these exist so the
checks have an independent reference and the notebooks a listener to talk to."""
