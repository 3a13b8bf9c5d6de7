from django.apps import AppConfig


class OffersConfig(AppConfig):
    name = "offers"
    verbose_name = "Offers, stores and rules"

    def ready(self) -> None:
        # imported here: the receivers' module imports models, which need the app registry.
        from deepflame_web.core.signals import run_started, schedule_changed

        # imported here: the receivers' module imports models, which need the app registry.
        from offers.audit import run_start_audit, schedule_change_audit

        run_started.connect(run_start_audit, dispatch_uid="offers.audit.run_start")
        schedule_changed.connect(schedule_change_audit, dispatch_uid="offers.audit.schedule")
