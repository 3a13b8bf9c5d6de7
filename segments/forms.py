from django import forms

from segments.models import Segment


class SegmentRenameForm(forms.Form):
    name = forms.CharField(max_length=Segment._meta.get_field("name").max_length)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="optional"
    )


class SegmentationRunForm(forms.Form):
    k = forms.IntegerField(
        required=False,
        min_value=2,
        max_value=30,
        label="Number of segments (K)",
        help_text="2 to 30; leave empty to use the suggested K (or keep the active one)",
    )
    refit = forms.BooleanField(
        required=False,
        label="Refit the definition",
        help_text="fit new centroids; segments are matched to the current ones by behavior",
    )
    until = forms.DateField(
        required=False,
        label="Last day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="only whole months ending on or before this day; empty: every month",
    )
