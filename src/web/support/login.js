// Logs in through the management API (JSON), then returns to the support page.
(function () {
  'use strict';
  var form = document.getElementById('login');
  var error = document.getElementById('login-error');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    error.hidden = true;
    fetch('/manage/v1/account/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ email: form.elements.namedItem('email').value, password: form.elements.namedItem('password').value }),
    }).then(function (res) {
      if (res.ok) { window.location.href = '/support'; return; }
      error.textContent = res.status === 429 ? form.dataset.throttled : form.dataset.failed;
      error.hidden = false;
    }, function () {
      error.textContent = form.dataset.failed;
      error.hidden = false;
    });
  });
})();
