from typing import Any

from django import forms

from offers.images import IMAGE_MAX_BYTES
from offers.models import MARKETER_TAGS, Offer
from offers.selectors import STATUSES

MARKETER_TAG_CHOICES = [(t.value, t.label) for t in MARKETER_TAGS]


class ListField(forms.CharField):
    """Comma-separated words as a list, in the order typed, without repeats."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        seen: dict[str, None] = {}
        for part in text.replace("\n", ",").split(","):
            if part.strip():
                seen.setdefault(part.strip(), None)
        return list(seen)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value


def _max_length(name: str) -> int | None:
    return getattr(Offer._meta.get_field(name), "max_length", None)


def _words(example: str) -> forms.TextInput:
    return forms.TextInput(attrs={"placeholder": f"e.g. {example}", "autocomplete": "off"})


class OfferForm(forms.Form):
    """Parses what the marketer typed; `offers.services` decides whether it is a valid offer."""

    offer_id = forms.CharField(
        label="Offer id",
        max_length=_max_length("offer_id"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(max_length=_max_length("name"))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    category = forms.CharField(
        required=False,
        max_length=_max_length("category"),
        widget=forms.TextInput(attrs={"list": "category-options", "autocomplete": "off"}),
    )
    pricing_tiers = ListField(label="Pricing tiers", required=False, widget=_words("value, core"))
    dayparts = ListField(required=False, widget=_words("breakfast, 22:00-02:00"))
    channels = ListField(required=False, widget=_words("mobile_app, drive_thru"))
    item_ids = ListField(label="Menu items", required=False, widget=_words("BRK03, DRK01"))
    discount_value = forms.DecimalField(
        label="Discount value", required=False, max_digits=12, decimal_places=2
    )
    valid_from = forms.DateField(
        label="Valid from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_to = forms.DateField(
        label="Valid to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    image = forms.FileField(
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
        help_text=f"PNG or JPEG, at most {IMAGE_MAX_BYTES // 2**20} MiB",
    )

    remove_image = forms.BooleanField(label="Remove the current image", required=False)
    tags = forms.MultipleChoiceField(
        required=False, choices=MARKETER_TAG_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    revision = forms.IntegerField(
        required=False,
        min_value=1,
        widget=forms.HiddenInput,
        help_text="the revision the page loaded: a save on top of a newer one is refused",
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            # Rules and history refer to the id, so an existing offer keeps it.
            self.fields["offer_id"].disabled = True

    def offer_fields(self) -> dict[str, Any]:
        """The parsed values of the fields that parsed, for the service to check and save.

        A ticked "remove" becomes `image: ""`, which the offer save reads as "no image".
        """
        cleaned = getattr(self, "cleaned_data", {})
        fields = {
            name: value for name, value in cleaned.items() if name not in ("image", "remove_image")
        }
        if cleaned.get("remove_image") and not cleaned.get("image"):
            fields["image"] = ""
        return fields


class OfferFilterForm(forms.Form):
    q = forms.CharField(required=False)
    category = forms.CharField(required=False)
    tier = forms.CharField(required=False)
    daypart = forms.CharField(required=False)
    channel = forms.CharField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "any date"), *((s, s) for s in STATUSES)]
    )
    on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
