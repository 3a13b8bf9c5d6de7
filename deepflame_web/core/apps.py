from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_save


class CoreConfig(AppConfig):
    name = "deepflame_web.core"
    label = "core"
    verbose_name = "DeepFlame core: runs, access, the lake and Spark"

    def ready(self) -> None:
        # imported here: the handler's module imports models, which need the app registry.
        from deepflame_web.core.signals import password_change_revokes_tokens

        pre_save.connect(
            password_change_revokes_tokens,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="core.password_change_revokes_tokens",
        )
