// The console's only script: copy buttons (`<button class="copy" data-copy="<element id>">`), and a count
// of content-security-policy violations and script errors on the page (`<html data-violations>`), which
// the browser tests read: the console must cause none.
document.documentElement.dataset.violations = "0";
const count = () => {
  document.documentElement.dataset.violations = String(Number(document.documentElement.dataset.violations) + 1);
};
document.addEventListener("securitypolicyviolation", count);
window.addEventListener("error", count);
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    button.dataset.copied = "1";
  });
});
