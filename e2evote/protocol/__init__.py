"""Protocol-level rules of e2evote that sit above the cryptography (e.g. outcome rules)."""
