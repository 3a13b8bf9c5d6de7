from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "deepflame_web.core"
    label = "core"
    verbose_name = "DeepFlame core: runs, access, the lake and Spark"
