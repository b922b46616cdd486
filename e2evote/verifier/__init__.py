"""The independent verifier (EG 2.0 §6.2 Verifications 1-14, e2evote steps R1-R2, V19, V20;
specs/10-verification.md).

:func:`verify_record` checks an :class:`~e2evote.record.model.ElectionRecord` and returns a
:class:`Report` listing every failed check with its step id and object; it never raises on bad
input. :func:`verify_path` detects the record's layout (native or egk) and reads it first.
"""

from e2evote.verifier.report import Failure, Report
from e2evote.verifier.steps import verify_ballots, verify_path, verify_record

__all__ = ["Failure", "Report", "verify_record", "verify_path", "verify_ballots"]
