"""Judges: the one layer that turns a response into a verdict (model factory, failure policy, protocols)."""
