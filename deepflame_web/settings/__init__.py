"""Settings come from environment variables only (see .env.example); tests use `.test`."""

from deepflame_web.settings.base import *  # noqa: F403
