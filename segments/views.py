from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from deepflame_web.core.access import ADMINS_ONLY, role_required
from deepflame_web.core.services import RunAlreadyActive
from segments.services import history_import_start, upload_store

MAX_UPLOAD_BYTES = 2 << 30


class ImportUploadForm(forms.Form):
    archive = forms.FileField(help_text="A .zip of a folder in the import format")

    def clean_archive(self) -> object:
        archive = self.cleaned_data["archive"]
        if not archive.name.lower().endswith(".zip"):
            raise forms.ValidationError("Upload a .zip file of the extract folder.")
        if archive.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The archive is larger than 2 GiB; use import_data.")
        return archive


@role_required(ADMINS_ONLY)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        archive = form.cleaned_data["archive"]
        path = upload_store(content=archive, name=archive.name)
        try:
            run = history_import_start(archive=path, started_by=request.user)
        except RunAlreadyActive as exc:
            path.unlink(missing_ok=True)
            messages.error(request, str(exc))
        else:
            return redirect("run_detail", run_id=run.pk)
    return render(request, "segments/import_upload.html", {"form": form})
