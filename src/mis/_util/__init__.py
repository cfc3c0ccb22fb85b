"""Small shared utilities: atomic file writes, templates (one cached environment + sha256), configs."""
