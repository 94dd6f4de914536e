"""Seeds derived from names, never from global random state.

Every random draw in a run comes from a seed computed here from stable strings
(the run key, the pair name, the iteration), so the same spec gives the same
numbers whichever process or executor runs it.
"""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the string forms of ``parts``."""
    text = "\x1f".join(str(p) for p in parts)
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
