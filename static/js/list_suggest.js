// Suggestions for the comma-separated fields of the rule editor: offers by id and name,
// categories. The browser's own list (a datalist) completes the value after the last comma,
// so "OF-101, Cro" suggests "OF-101, OF-103" for the $3 Croissant Meal.
(function () {
  var SOURCES = { offers: "offer-choices", categories: "category-choices" };
  var cache = {};

  function choices(kind) {
    if (!cache[kind]) {
      var node = document.getElementById(SOURCES[kind]);
      cache[kind] = node ? JSON.parse(node.textContent) : [];
    }
    return cache[kind];
  }

  function listFor(input) {
    var id = "suggest-" + input.name;
    var list = document.getElementById(id);
    if (!list) {
      list = document.createElement("datalist");
      list.id = id;
      document.body.appendChild(list);
      input.setAttribute("list", id);
    }
    return list;
  }

  function refresh(input) {
    var kind = input.dataset.suggest;
    var text = input.value;
    var cut = text.lastIndexOf(",");
    var prefix = cut >= 0 ? text.slice(0, cut + 1).replace(/\s*$/, " ") : "";
    var typed = text.slice(cut + 1).trim().toLowerCase();
    var list = listFor(input);
    list.textContent = "";
    choices(kind).filter(function (choice) {
      return !typed || (choice[0] + " " + choice[1]).toLowerCase().indexOf(typed) >= 0;
    }).slice(0, 50).forEach(function (choice) {
      var option = document.createElement("option");
      option.value = input.dataset.single ? choice[0] : prefix + choice[0];
      option.label = choice[1];
      list.appendChild(option);
    });
  }

  ["focusin", "input"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var input = event.target;
      if (input.dataset && input.dataset.suggest) { refresh(input); }
    });
  });
})();
