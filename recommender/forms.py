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
