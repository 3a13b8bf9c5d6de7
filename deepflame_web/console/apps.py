from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The composition layer: the pipeline across apps and the pages that read every app."""

    name = "deepflame_web.console"
    label = "console"
    verbose_name = "DeepFlame console: pipeline, overview and runs"
