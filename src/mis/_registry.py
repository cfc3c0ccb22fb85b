"""inspect_ai entry point: importing this registers mis's tasks, scorers and the `hfvlm` provider."""
