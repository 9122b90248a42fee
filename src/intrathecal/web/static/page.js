// Small behaviours of every page, wired here because the Content-Security-Policy allows no
// inline handler: [data-print] prints the page, [data-select] selects its text on click,
// [data-back] goes back a page (its href is the way when there is no page to go back to).
document.addEventListener("click", function (event) {
  const target = event.target;
  if (!(target instanceof Element)) return;
  if (target.closest("[data-print]")) window.print();
  if (target.closest("[data-back]") && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
  const box = target.closest("[data-select]");
  if (box && typeof box.select === "function") box.select();
});
