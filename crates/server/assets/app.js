// innsync UI: ask before dangerous actions. A form with data-confirm="question" is sent only
// after the operator agrees. Loaded as a file because the Content Security Policy forbids
// inline script.
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
