// innsync UI. Loaded as a file because the Content Security Policy forbids inline script.
//
// 1. Ask before dangerous actions: a form with data-confirm="question" is sent only after the
//    operator agrees.
// 2. Keyboard shortcuts, when the focus is not in a field: "/" search, "t" today, "n" new
//    booking, "g" tape chart. Every shortcut has a visible link or field as well.
document.addEventListener(
  "submit",
  function (e) {
    var f = e.target;
    if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  },
  true
);

document.addEventListener("keydown", function (e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  var t = e.target;
  var typing =
    t instanceof HTMLInputElement ||
    t instanceof HTMLTextAreaElement ||
    t instanceof HTMLSelectElement ||
    (t instanceof HTMLElement && t.isContentEditable);
  if (typing) {
    if (e.key === "Escape" && t instanceof HTMLElement) t.blur();
    return;
  }
  var go = { t: "/ui/today", n: "/ui/bookings/new", g: "/ui/grid" }[e.key];
  if (e.key === "/") {
    var s = document.getElementById("header-search");
    if (s) {
      e.preventDefault();
      s.focus();
    }
  } else if (go) {
    e.preventDefault();
    window.location.assign(go);
  }
});
