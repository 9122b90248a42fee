// Small behaviours of every page, wired here because the Content-Security-Policy allows no
// inline handler: [data-print] prints the page, [data-select] selects its text on click.
document.addEventListener("click", function (event) {
  const target = event.target;
  if (!(target instanceof Element)) return;
  if (target.closest("[data-print]")) window.print();
  const box = target.closest("[data-select]");
  if (box && typeof box.select === "function") box.select();
});
