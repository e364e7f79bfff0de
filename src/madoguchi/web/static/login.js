(function () {
  "use strict";
  const { api, t } = window.Mdg;
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("login-error");
    error.textContent = "";
    try {
      await api("POST", "/api/v1/auth/login", {
        email: document.getElementById("email").value,
        password: document.getElementById("password").value,
      });
      location.href = form.dataset.next || "/";
    } catch (err) {
      error.textContent = t("login.failed", { message: err.message });
    }
  });
})();
