// When a save or a live check fails on the server side (a lost session, a crash), htmx swaps
// nothing: say so next to the button, and leave every typed value where it is.
document.addEventListener("htmx:responseError", (event) => {
  const status = document.getElementById("form-status");
  if (!status || !status.closest("#offer-form")) return;
  const code = event.detail.xhr.status;
  const why = code === 403 ? "your session or role does not allow this (sign in again in another tab)" : `the server answered ${code}`;
  status.innerHTML = "";
  const line = document.createElement("span");
  line.className = "problems";
  line.dataset.state = "server-error";
  line.textContent = `Not saved: ${why}. Your input is still here.`;
  status.appendChild(line);
});
document.addEventListener("htmx:sendError", () => {
  const status = document.getElementById("form-status");
  if (status) status.textContent = "Not saved: the server cannot be reached. Your input is still here.";
});
