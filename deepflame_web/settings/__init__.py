"""Settings: `base` reads environment variables (both runtimes); `test` is for the suite."""
