"""Copies of the open guards' prompts as their releases hold them (the byte-for-byte tests' reference)."""
