"""Independent, reproducible random streams.

Every concern (names, addresses, conditions, visits, ...) of every patient draws from its own stream, seeded
from the population seed, the concern and the patient's index. So the same seed gives the same bytes, patient
``i`` is the same whatever the population size, and changing how one concern draws (say, names) does not shift
any other (say, clinical numbers).
"""

from __future__ import annotations

import random
import uuid


def stream(seed: int, concern: str, index: int | str = 0) -> random.Random:
    """The random stream of one concern of one patient (or of the population when ``index`` is a name)."""
    return random.Random(f"hitlab/{seed}/{concern}/{index}")


_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (so it is reproducible); the same text as
    ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, without building a UUID object."""
    h = f"{(rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-4c59-9b7e-3f2d1a0c5e71")


def stable_uuid(kind: str, name: str) -> str:
    """A name-based UUID for reference data (organizations, providers, payers), the same for every seed."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))
