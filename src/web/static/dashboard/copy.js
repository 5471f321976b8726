// Progressive enhancement for the secret-once page: a copy button (the page works without it).
(function () {
  'use strict';
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const source = document.getElementById(button.getAttribute('data-copy'));
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(source.value || source.textContent).then(
        function () {
          const status = document.getElementById(button.getAttribute('data-status'));
          if (status) status.textContent = button.getAttribute('data-done');
        },
        function () {
          source.select && source.select();
        },
      );
    });
  }
})();
