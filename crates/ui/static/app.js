// masksearch UI: small progressive enhancements; every page works without them.
// "Expand all" / "collapse all" buttons for the documents of a trajectory.
document.querySelectorAll("[data-toggle-docs]").forEach((button) => {
  button.addEventListener("click", () => {
    const docs = document.querySelectorAll("details.doc");
    const open = !Array.from(docs).every((d) => d.open);
    docs.forEach((d) => { d.open = open; });
  });
});
