from django import forms


class TrainingRunForm(forms.Form):
    until = forms.DateField(
        required=False,
        label="Cutoff day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="train before this day, evaluate on the four weeks after it; empty: four "
        "weeks before the last redemption",
    )
    epochs = forms.IntegerField(
        min_value=1,
        max_value=200,
        initial=30,
        label="Most epochs",
        help_text="training stops earlier when the validation loss stops improving",
    )


class ReassignForm(forms.Form):
    """The batch's validity window, chosen when an Admin starts a reassignment."""

    valid_from = forms.DateField(
        required=False,
        label="Valid from",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="the first day the offers are for (each customer is decided for their usual "
        "daypart on it); empty: today (UTC)",
    )
    valid_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=366,
        label="Days",
        help_text="how many days the offers are valid; empty: until the next batch",
    )
