// A form with data-confirm asks before it is sent: the actions that change what customers get
// (a model activated, offers reassigned, the whole pipeline, segments or the model retrained).
document.addEventListener("submit", function (event) {
  var question = event.target.dataset ? event.target.dataset.confirm : "";
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
