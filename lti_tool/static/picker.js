/* The deep-linking picker's "Chosen (n)" list kept in step with the ticks, without sending the
   form: ticking a box in the results adds its item, unticking it (or its "Untick" button)
   takes it away. Without this script the server does the same each time the form is sent. */
(function () {
  "use strict";
  var form = document.getElementById("picker");
  if (!form) {
    return;
  }
  var list = form.querySelector(".picker-chosen-list");
  var count = form.querySelector(".picker-count");
  var none = form.querySelector(".picker-none");
  var heading = document.getElementById("chosen-heading");

  function boxes() {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="choice"]'));
  }

  function boxFor(value) {
    return boxes().filter(function (box) { return box.value === value; })[0] || null;
  }

  /* The entry of a ticked box, as the server writes it (title, kind, "Untick"). */
  function entryFor(box) {
    var label = form.querySelector('label[for="' + box.id + '"]');
    var title = label ? label.textContent.trim() : box.value;
    var kind = box.value.split(":")[0] === "playlist" ? list.dataset.playlist : list.dataset.activity;
    var item = document.createElement("li");
    item.dataset.value = box.value;
    item.dataset.shown = "";
    var name = document.createElement("span");
    name.className = "picker-chosen-title";
    name.textContent = title;
    var hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = "(" + kind + ")";
    var untick = document.createElement("button");
    untick.type = "submit";
    untick.name = "untick";
    untick.value = box.value;
    untick.className = "secondary picker-untick";
    untick.textContent = list.dataset.untick;
    untick.setAttribute("aria-label", list.dataset.untickNamed.replace("%(title)s", title));
    item.append(name, " ", hint, " ", untick);
    return item;
  }

  /* Items chosen earlier that this search does not show stay first; then the ticked boxes. */
  function refresh() {
    list.querySelectorAll("li[data-shown]").forEach(function (item) { item.remove(); });
    boxes().forEach(function (box) {
      if (box.checked) {
        list.append(entryFor(box));
      }
    });
    var chosen = list.children.length;
    count.textContent = String(chosen);
    none.hidden = chosen > 0;
  }

  form.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name !== "choice") {
      return;
    }
    if (box.type === "radio") {
      // One item at a time: the new one replaces one chosen in an earlier search.
      list.querySelectorAll("li:not([data-shown])").forEach(function (item) { item.remove(); });
    }
    refresh();
  });

  list.addEventListener("click", function (event) {
    var untick = event.target.closest("button.picker-untick");
    if (!untick) {
      return;
    }
    event.preventDefault();
    var box = boxFor(untick.value);
    if (box) {
      box.checked = false;
    }
    untick.closest("li").remove();
    refresh();
    heading.focus();
  });

  // The browser may restore ticks when the teacher comes back to the page.
  window.addEventListener("pageshow", refresh);
  refresh();
}());
