"""tests/vectors: egk's test vectors and election record checked byte for byte (see README.md).

Puts this directory on sys.path so the helper modules ``egkdata`` (JSON → library values) and
``egk19`` (the documented EG-1.9 layout adapter) import under any pytest import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
